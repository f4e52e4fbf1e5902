// The brand experience panel: the worst products and segments now, each with its index (a bar coloured by level),
// its trend against its own baseline, the evidence behind it and the leading reason.
import type { ExperienceCell } from '../../../contract/frames.js';
import { $, barCell, el, nameCell, setText, syncChildren, withParts, type WithParts } from './dom.js';
import { fmtCount } from './format.js';
import { state } from './state.js';

/** The server sends at most 10 of each kind; a larger list from an older or foreign source is cut here too. */
const MAX_ROWS_PER_KIND = 10;
/** signals.experience.churnThreshold's default: below it the churn risk names the experience as a reason. */
const CRITICAL_BELOW = 35;
/** 50 is neutral (no evidence): below it the experience is more bad than good. */
const WARNING_BELOW = 50;
/** Index points against the baseline that count as a move rather than noise, each way. */
const TREND_STEP = 1;

type ExperienceRow = WithParts<HTMLTableRowElement, { key: HTMLElement; why: HTMLElement; fill: HTMLElement; index: HTMLElement; trend: HTMLElement; volume: HTMLElement }>;

export function experienceLevel(index: number): 'critical' | 'warning' | 'ok' {
  return index < CRITICAL_BELOW ? 'critical' : index < WARNING_BELOW ? 'warning' : 'ok';
}

/** The arrow and its points: "▼ 12.4" declining, "▲ 3.0" improving, "→ 0.4" steady. */
export function trendText(trend: number): { direction: 'down' | 'up' | 'flat'; text: string } {
  if (!Number.isFinite(trend)) return { direction: 'flat', text: '–' };
  const points = Math.abs(trend).toFixed(1);
  if (trend <= -TREND_STEP) return { direction: 'down', text: `▼ ${points}` };
  if (trend >= TREND_STEP) return { direction: 'up', text: `▲ ${points}` };
  return { direction: 'flat', text: `→ ${points}` };
}

function createExperienceRow(): ExperienceRow {
  const row = el('tr');
  row.dataset.testid = 'experience-row';
  const who = nameCell('where', 'experience-key', 'experience-reason');
  const index = barCell('experience-index');
  const trend = el('td', 'num trend');
  trend.dataset.testid = 'experience-trend';
  const volume = el('td', 'num');
  volume.dataset.testid = 'experience-volume';
  row.append(who.cell, index.cell, trend, volume);
  return withParts(row, { key: who.name, why: who.why, fill: index.fill, index: index.value, trend, volume });
}

function updateExperienceRow(row: ExperienceRow, c: ExperienceCell): void {
  const p = row.parts;
  setText(p.key, c.key);
  p.key.title = c.key;
  setText(p.why, c.reason ?? '');
  p.why.title = c.reason ?? '';
  const index = Math.min(100, Math.max(0, c.index));
  setText(p.index, index.toFixed(0));
  p.fill.style.width = `${index.toFixed(1)}%`;
  const level = experienceLevel(index);
  row.dataset.level = level;
  p.index.dataset.level = level;
  const trend = trendText(c.trend);
  setText(p.trend, trend.text);
  p.trend.dataset.direction = trend.direction;
  p.trend.title = Number.isFinite(c.trend) ? `${c.trend >= 0 ? '+' : '−'}${Math.abs(c.trend).toFixed(1)} index points against its own baseline` : '';
  setText(p.volume, fmtCount(Math.round(c.volume)));
}

/** The worst first: lowest index, then the steepest decline, then the most evidence; at most MAX_ROWS_PER_KIND. */
export function worstOf(cells: readonly ExperienceCell[], kind: ExperienceCell['kind']): ExperienceCell[] {
  return cells
    .filter((c) => c.kind === kind)
    .sort((a, b) => a.index - b.index || a.trend - b.trend || b.volume - a.volume || a.key.localeCompare(b.key))
    .slice(0, MAX_ROWS_PER_KIND);
}

export function renderExperience(): void {
  const products = worstOf(state.experience, 'product');
  const segments = worstOf(state.experience, 'segment');
  syncChildren($('experience-products'), products, (c) => `product:${c.key}`, createExperienceRow, updateExperienceRow);
  syncChildren($('experience-segments'), segments, (c) => `segment:${c.key}`, createExperienceRow, updateExperienceRow);
  $('experience-products-empty').hidden = products.length > 0;
  $('experience-segments-empty').hidden = segments.length > 0;
  const flagged = [...products, ...segments].filter((c) => experienceLevel(c.index) === 'critical').length;
  setText($('experience-count'), flagged ? `${flagged} below ${CRITICAL_BELOW}` : '');
}
