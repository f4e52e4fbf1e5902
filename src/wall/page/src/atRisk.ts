// The customers-at-risk table: who, why, how likely and how much value, with how sure the model is where it says.
import type { AtRiskEntry, AtRiskIntervals, IntervalEstimate } from '../../../contract/frames.js';
import { $, barCell, el, nameCell, setText, syncChildren, withParts, type WithParts } from './dom.js';
import { fmtNumber } from './format.js';
import { state } from './state.js';

type RiskRow = WithParts<HTMLTableRowElement, { cust: HTMLElement; why: HTMLElement; fill: HTMLElement; pct: HTMLElement; riskCell: HTMLElement; value: HTMLElement; range: HTMLElement }>;

function createRiskRow(): RiskRow {
  const row = el('tr');
  row.dataset.testid = 'at-risk-row';
  const who = nameCell('cust', 'at-risk-customer', 'at-risk-reasons');
  const risk = barCell('at-risk-pct');
  const cell = el('td', 'num');
  const value = el('span');
  value.dataset.testid = 'at-risk-value';
  // "90 % 980–1,510" under the value, muted: the value at risk's interval, when the model has one.
  const range = el('div', 'range');
  range.dataset.testid = 'at-risk-value-range';
  cell.append(value, range);
  row.append(who.cell, risk.cell, cell);
  return withParts(row, { cust: who.name, why: who.why, fill: risk.fill, pct: risk.value, riskCell: risk.cell, value, range });
}

const level = (i: IntervalEstimate) => `${Number((i.level * 100).toFixed(1))} %`;
const fixed = (v: number) => v.toFixed(2);

/** The risk cell's tooltip: P(alive) and the 90-day expected purchases with their intervals. */
function intervalsTitle(iv: AtRiskIntervals | undefined): string {
  if (!iv) return '';
  const { pAlive: p, expectedPurchases90d: e } = iv;
  return `P(alive) ${fixed(p.estimate)}, ${level(p)} ${fixed(p.lower)}–${fixed(p.upper)}\nexpected purchases in 90 days ${fixed(e.estimate)}, ${level(e)} ${fixed(e.lower)}–${fixed(e.upper)}`;
}

function updateRiskRow(row: RiskRow, entry: AtRiskEntry): void {
  const p = row.parts;
  const percent = Math.round(entry.risk * 100);
  setText(p.cust, entry.customerId);
  const reasons = entry.reasons.join(' · ');
  setText(p.why, reasons);
  p.why.title = entry.reasons.join('\n');
  setText(p.pct, `${percent}%`);
  p.fill.style.width = `${Math.min(100, Math.max(0, percent))}%`;
  row.classList.toggle('risk-high', entry.risk >= 0.8);
  p.riskCell.title = intervalsTitle(entry.intervals);
  setText(p.value, fmtNumber(entry.valueAtRisk));
  const v = entry.intervals?.valueAtRisk;
  const shown = v && Number.isFinite(v.lower) && Number.isFinite(v.upper) ? `${level(v)} ${fmtNumber(v.lower)}–${fmtNumber(v.upper)}` : '';
  setText(p.range, shown);
  p.range.hidden = shown === '';
}

export function renderAtRisk(): void {
  syncChildren($('risk-body'), state.atRisk, (e) => e.customerId, createRiskRow, updateRiskRow);
  $('risk-empty').hidden = state.atRisk.length > 0;
  setText($('risk-count'), state.atRisk.length ? String(state.atRisk.length) : '');
}
