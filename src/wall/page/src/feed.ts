// The alert feed's model: which cards, in which order, with customer alerts of one rule and campaign grouped.
import type { AlertGroupCount, AlertView, Severity, Silence } from '../../../contract/frames.js';
import { silencedMap } from './matching.js';
import { serverNow, state } from './state.js';

/** Customer alerts of one rule and campaign collapse into one group card from this many on. */
const GROUP_MIN = 3;

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

export interface AlertItem {
  kind: 'alert';
  key: string;
  alert: AlertView;
  rank: number;
  severity: Severity;
  updatedAt: number;
}

export interface GroupItem {
  kind: 'group';
  key: string;
  /** `rule|campaign` */
  groupKey: string;
  rule: string;
  campaign: string;
  /** The group's alerts this screen holds, those needing someone first. */
  members: AlertView[];
  /** The processor's totals for the group, when it sent them. */
  counts: AlertGroupCount | null;
  rank: number;
  severity: Severity;
  updatedAt: number;
}

export type FeedItem = AlertItem | GroupItem;

/** Unacknowledged, unsilenced firing first; then firing that someone owns (acknowledged or silenced); pending; resolved. */
function alertRank(alert: AlertView, silenced: Map<string, Silence[]>): number {
  if (alert.state === 'firing') return alert.acknowledged || silenced.has(alert.id) ? 1 : 0;
  return alert.state === 'pending' ? 2 : 3;
}

function itemOrder(a: FeedItem, b: FeedItem): number {
  return a.rank - b.rank || SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || b.updatedAt - a.updatedAt;
}

export function alertItem(alert: AlertView, silenced: Map<string, Silence[]>): AlertItem {
  return { kind: 'alert', key: alert.id, alert, rank: alertRank(alert, silenced), severity: alert.severity, updatedAt: alert.updatedAt };
}

/**
 * Entity and processor alerts are one card each. Customer alerts of one rule and campaign become one group card once
 * there are GROUP_MIN of them, so 300 tired customers of one campaign are one line, not 300 cards over the campaign alert.
 * The counts come from the processor's totals (stats.alerts) when it sends them: a snapshot holds only the latest alerts.
 */
export function feedItems(silenced: Map<string, Silence[]>): FeedItem[] {
  const items: FeedItem[] = [];
  const groups = new Map<string, { rule: string; campaign: string; members: AlertView[]; counts: AlertGroupCount | null }>();
  const groupOf = (rule: string, campaign: string) => {
    const key = `${rule}|${campaign}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { rule, campaign, members: [], counts: null }));
    return group;
  };
  for (const alert of state.alerts.values()) {
    if (alert.subject.kind === 'customer') groupOf(alert.rule, alert.labels?.campaign ?? '').members.push(alert);
    else items.push(alertItem(alert, silenced));
  }
  for (const counts of state.stats?.alerts?.customerGroups ?? []) groupOf(counts.rule, counts.campaign ?? '').counts = counts;
  for (const [key, group] of groups) {
    const total = group.counts ? group.counts.firing + group.counts.pending : 0;
    if (Math.max(group.members.length, total) < GROUP_MIN) {
      for (const alert of group.members) items.push(alertItem(alert, silenced));
      continue;
    }
    const members = group.members.map((alert) => ({ alert, rank: alertRank(alert, silenced) }));
    members.sort((x, y) => x.rank - y.rank || y.alert.value - x.alert.value);
    const c = group.counts;
    // Without members on this screen the rank comes from the counts: someone must look while any firing alert is unowned.
    const countsRank = c ? (c.firing > c.acknowledged + c.silenced ? 0 : c.firing > 0 ? 1 : 2) : 3;
    items.push({
      kind: 'group',
      key: `group:${key}`,
      groupKey: key,
      rule: group.rule,
      campaign: group.campaign,
      members: members.map((m) => m.alert),
      counts: c,
      rank: Math.min(countsRank, ...members.map((m) => m.rank)),
      severity: members.map((m) => m.alert.severity).sort((x, y) => SEVERITY_RANK[x] - SEVERITY_RANK[y])[0] ?? 'warning',
      updatedAt: Math.max(0, ...group.members.map((a) => a.updatedAt)),
    });
  }
  return items.sort(itemOrder);
}

/** The group behind a card, recomputed from state, so a click acts on what is true now rather than at the last render. */
export function currentGroup(key: string | undefined): GroupItem | null {
  const found = feedItems(silencedMap(serverNow())).find((item) => item.key === key && item.kind === 'group');
  return found?.kind === 'group' ? found : null;
}
