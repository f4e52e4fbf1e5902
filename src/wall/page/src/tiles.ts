// The processor tiles along the top: events per second, lag, active customers, rejected events, ClickHouse buffer,
// and the churn model's version with the scheduled refit's drift state.
import { $, el, setText } from './dom.js';
import { durationParts, fmtCount, fmtUptime } from './format.js';
import { state } from './state.js';

type Level = 'warning' | 'critical' | null;

function renderTile(id: string, value: string, unit: string, sub: string, level: Level = null): void {
  const tile = $(id);
  const valueNode = tile.querySelector<HTMLElement>('.tile-value')!;
  const key = `${value}\u0000${unit}`;
  if (valueNode.dataset.shown !== key) {
    valueNode.dataset.shown = key;
    valueNode.replaceChildren(document.createTextNode(value));
    if (unit) valueNode.append(el('small', '', unit));
  }
  setText(tile.querySelector('.tile-sub')!, sub);
  tile.classList.toggle('level-warning', level === 'warning');
  tile.classList.toggle('level-critical', level === 'critical');
}

export function renderTiles(): void {
  const s = state.stats;
  if (!s) return;
  renderTile('tile-eps', fmtCount(s.eventsPerSec), '', `${fmtCount(s.eventsTotal)} events in total`);
  $('tile-eps').dataset.value = String(s.eventsPerSec);
  const [lagValue, lagUnit] = durationParts(s.lagMs);
  const lagLevel = s.lagMs >= 30_000 ? 'critical' : s.lagMs >= 5_000 ? 'warning' : null;
  renderTile('tile-lag', lagValue, lagUnit, `${fmtCount(s.pending)} pending in stream`, lagLevel);
  $('tile-lag').dataset.value = String(s.lagMs);
  renderTile('tile-active', fmtCount(s.activeCustomers), '', `up ${fmtUptime(s.uptimeS)}`);
  $('tile-active').dataset.value = String(s.activeCustomers);
  renderTile('tile-rejected', fmtCount(s.rejectedTotal), '', `${fmtCount(s.lateTotal)} late`);
  $('tile-rejected').dataset.value = String(s.rejectedTotal);
  renderTile('tile-ch', fmtCount(s.clickhouseBufferedRows), 'rows', 'waiting to be written');
  $('tile-ch').dataset.value = String(s.clickhouseBufferedRows);
  renderModelTile(s.model);
}

const MODEL_LABELS: Record<string, string> = { bgnbd: 'BG/NBD', pareto_nbd: 'Pareto/NBD', mbg_nbd: 'MBG/NBD' };

/** The version scoring now (its fit date, or the config's parameters), the holdout's choice, the last refit's drift. */
function renderModelTile(m: NonNullable<typeof state.stats>['model']): void {
  const tile = $('tile-model');
  if (!m) {
    renderTile('tile-model', '–', '', 'not reported');
    return;
  }
  const value = m.fittedAt ? m.fittedAt.slice(5, 16).replace('T', ' ') : 'config';
  const chosen = m.chosen ? `chose ${MODEL_LABELS[m.chosen] ?? m.chosen}; ` : '';
  const drift = m.drift === 'drifted' ? `drift: ${m.driftReasons.join('; ')}` : m.drift === 'ok' ? 'no drift' : 'drift not checked here';
  renderTile('tile-model', value, m.fittedAt ? 'UTC' : '', `${chosen}${drift}`, m.drift === 'drifted' ? 'warning' : null);
  tile.title = m.version;
  tile.dataset.value = m.version;
  tile.dataset.drift = m.drift;
}
