// The alerts panel: the feed of cards and groups, the totals in its heading, and (sharing one match) the silence list.
import { createAlertCard, updateAlertCard, type AlertCard } from './alertCard.js';
import { $, setText, syncChildren } from './dom.js';
import { alertItem, feedItems, type FeedItem } from './feed.js';
import { fmtCount } from './format.js';
import { createGroupCard, updateGroupCard, type GroupCard } from './groupCard.js';
import { silencedMap } from './matching.js';
import { renderSilences } from './silences.js';
import { focusAlert, serverNow, state } from './state.js';

const MAX_FEED_ITEMS = 60;
/** Resolved alerts leave the page after this long, so a week-old screen does not hoard them. */
const RESOLVED_KEEP_MS = 60 * 60_000;

export function renderAlerts(): void {
  const now = Date.now();
  for (const [id, alert] of state.alerts) {
    if (alert.state === 'resolved' && now - (alert.endsAt ?? alert.updatedAt) > RESOLVED_KEEP_MS) state.alerts.delete(id);
  }
  const silenced = silencedMap(serverNow());
  // Opened from an alert's link: that alert alone, on its own card, whatever group it would sit in.
  const items = focusAlert === null ? feedItems(silenced) : [...state.alerts.values()].filter((a) => a.fingerprint === focusAlert).map((a) => alertItem(a, silenced));
  const filter = $('alert-filter');
  filter.hidden = focusAlert === null;
  if (focusAlert !== null) {
    const all = new URLSearchParams(location.search);
    all.delete('alert');
    filter.querySelector('a')?.setAttribute('href', `?${all.toString()}`);
  }
  $('alert-empty').textContent = focusAlert === null ? 'No alerts. All quiet.' : 'This alert is not on the wall now (resolved over an hour ago, or never seen by it).';
  const shown = items.slice(0, MAX_FEED_ITEMS);
  syncChildren<FeedItem, AlertCard | GroupCard>(
    $('alert-feed'),
    shown,
    (item) => item.key,
    // A key is an alert id or `group:…`, so a node keeps its kind for life.
    (item) => (item.kind === 'group' ? createGroupCard() : createAlertCard()),
    (node, item) => (item.kind === 'group' ? updateGroupCard(node as GroupCard, item, silenced) : updateAlertCard(node as AlertCard, item.alert, silenced)),
  );
  $('alert-empty').hidden = shown.length > 0;
  const all = [...state.alerts.values()];
  // The processor's totals cover alerts this screen never received; they arrive once a second, so until they catch up
  // with a change the page has already seen, its own count is the better one.
  const knownActive = all.filter((a) => a.state !== 'resolved').length;
  const totals = state.stats?.alerts && state.stats.alerts.firing + state.stats.alerts.pending >= knownActive ? state.stats.alerts : null;
  const firing = totals?.firing ?? all.filter((a) => a.state === 'firing').length;
  const pendingCount = totals?.pending ?? all.filter((a) => a.state === 'pending').length;
  const unattended = totals?.unattended ?? all.filter((a) => a.state === 'firing' && !a.acknowledged && !silenced.has(a.id)).length;
  const silencedCount = totals?.silenced ?? silenced.size;
  const parts = [`${fmtCount(firing)} firing${unattended !== firing ? ` (${fmtCount(unattended)} need someone)` : ''}`, `${fmtCount(pendingCount)} pending`];
  if (silencedCount) parts.push(`${fmtCount(silencedCount)} silenced`);
  setText($('alert-counts'), firing + pendingCount === 0 && all.length === 0 ? '' : parts.join(' · '));
  renderSilences(silenced);
}
