// The overload heat table: channels, campaigns and segments by surge, overloaded customers and held-back sends.
import type { OverloadCell } from '../../../contract/frames.js';
import { $, el, setText, syncChildren, withParts, type WithParts } from './dom.js';
import { fmtCount } from './format.js';
import { state } from './state.js';

const MAX_OVERLOAD_ROWS = 30;

type OverloadRow = WithParts<
  HTMLTableRowElement,
  { kind: HTMLElement; key: HTMLElement; touches: HTMLElement; overloaded: HTMLElement; negatives: HTMLElement; heldBack: HTMLElement; z: HTMLElement }
>;

function surgeLevel(z: number): 'critical' | 'warning' | null {
  return z >= 4 ? 'critical' : z >= 2 ? 'warning' : null;
}

function createOverloadRow(): OverloadRow {
  const row = el('tr');
  row.dataset.testid = 'overload-row';
  const where = el('td');
  const kind = el('span', 'kind');
  const key = el('span', 'where');
  where.append(kind, key);
  const touches = el('td', 'num');
  const overloaded = el('td', 'num hot');
  const negatives = el('td', 'num hot');
  const heldBack = el('td', 'num hot');
  heldBack.dataset.testid = 'overload-held-back';
  const z = el('td', 'num z');
  z.dataset.testid = 'overload-surge';
  row.append(where, touches, overloaded, negatives, heldBack, z);
  return withParts(row, { kind, key, touches, overloaded, negatives, heldBack, z });
}

export function renderOverload(): void {
  const cells = [...state.overload]
    .sort((a, b) => b.surgeZ - a.surgeZ || b.overloadedCustomers - a.overloadedCustomers || (b.suppressed ?? 0) - (a.suppressed ?? 0) || b.negatives1h - a.negatives1h)
    .slice(0, MAX_OVERLOAD_ROWS);
  const maxOverloaded = Math.max(1, ...cells.map((c) => c.overloadedCustomers));
  const maxHeldBack = Math.max(1, ...cells.map((c) => c.suppressed ?? 0));
  const maxNegatives = Math.max(1, ...cells.map((c) => c.negatives1h));
  syncChildren(
    $('overload-body'),
    cells,
    (c) => `${c.kind}:${c.key}`,
    createOverloadRow,
    (row, c: OverloadCell) => {
      const p = row.parts;
      setText(p.kind, c.kind);
      setText(p.key, c.key);
      p.key.title = c.key;
      setText(p.touches, fmtCount(c.touches24h));
      setText(p.overloaded, fmtCount(c.overloadedCustomers));
      p.overloaded.style.setProperty('--heat', (c.overloadedCustomers / maxOverloaded).toFixed(3));
      setText(p.negatives, fmtCount(c.negatives1h));
      p.negatives.style.setProperty('--heat', (c.negatives1h / maxNegatives).toFixed(3));
      // Sends the contact budget held back (a dash where no sender asks); the title says of how many and where.
      setText(p.heldBack, c.checked ? fmtCount(c.suppressed ?? 0) : '–');
      p.heldBack.style.setProperty('--heat', ((c.suppressed ?? 0) / maxHeldBack).toFixed(3));
      const byChannel = Object.entries(c.suppressedByChannel ?? {}).map(([ch, n]) => `${ch} ${fmtCount(n)}`).join(', ');
      p.heldBack.title = c.checked ? `${fmtCount(c.suppressed ?? 0)} of ${fmtCount(c.checked)} checked${byChannel ? `: ${byChannel}` : ''}` : '';
      setText(p.z, c.surgeZ.toFixed(1));
      const level = surgeLevel(c.surgeZ);
      p.z.className = `num z${level ? ` level-${level}` : ''}`;
      p.z.dataset.level = level ?? 'normal';
    },
  );
  $('overload-empty').hidden = cells.length > 0;
}
