// The customers-at-risk table: who, why, how likely and how much value.
import type { AtRiskEntry } from '../../../contract/frames.js';
import { $, barCell, el, nameCell, setText, syncChildren, withParts, type WithParts } from './dom.js';
import { fmtNumber } from './format.js';
import { state } from './state.js';

type RiskRow = WithParts<HTMLTableRowElement, { cust: HTMLElement; why: HTMLElement; fill: HTMLElement; pct: HTMLElement; value: HTMLElement }>;

function createRiskRow(): RiskRow {
  const row = el('tr');
  row.dataset.testid = 'at-risk-row';
  const who = nameCell('cust', 'at-risk-customer', 'at-risk-reasons');
  const risk = barCell('at-risk-pct');
  const value = el('td', 'num');
  value.dataset.testid = 'at-risk-value';
  row.append(who.cell, risk.cell, value);
  return withParts(row, { cust: who.name, why: who.why, fill: risk.fill, pct: risk.value, value });
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
  setText(p.value, fmtNumber(entry.valueAtRisk));
}

export function renderAtRisk(): void {
  syncChildren($('risk-body'), state.atRisk, (e) => e.customerId, createRiskRow, updateRiskRow);
  $('risk-empty').hidden = state.atRisk.length > 0;
  setText($('risk-count'), state.atRisk.length ? String(state.atRisk.length) : '');
}
