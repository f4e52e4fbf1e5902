// A group card: customer alerts of one rule and campaign as one line with counts, member chips, and the members on demand.
import type { AlertView, Silence } from '../../../contract/frames.js';
import { acknowledge } from './commands.js';
import { button, el, scheduleRender, setChips, setText, syncChildren, withParts, type WithParts } from './dom.js';
import { currentGroup, type GroupItem } from './feed.js';
import { fmtAge, fmtCount, fmtNumber } from './format.js';
import { groupSilenceTarget, openSilenceDialog } from './silenceForm.js';
import { state } from './state.js';

const MAX_GROUP_CHIPS = 6;
const MAX_GROUP_MEMBERS_SHOWN = 40;

export type GroupCard = WithParts<
  HTMLElement,
  {
    sev: HTMLElement;
    st: HTMLElement;
    count: HTMLElement;
    silencedBadge: HTMLElement;
    age: HTMLElement;
    title: HTMLElement;
    summary: HTMLElement;
    chips: HTMLElement;
    ackAll: HTMLButtonElement;
    silenceButton: HTMLButtonElement;
    toggle: HTMLButtonElement;
    foot: HTMLElement;
    members: HTMLElement;
  }
>;

type MemberRow = WithParts<HTMLDivElement, { who: HTMLElement; value: HTMLElement; state: HTMLElement; note: HTMLElement; ack: HTMLButtonElement }>;

function acknowledgeGroup(key: string | undefined): void {
  const group = currentGroup(key);
  if (!group) return;
  for (const alert of group.members) if (alert.state === 'firing' && !alert.acknowledged) acknowledge(alert.id, null);
}

export function createGroupCard(): GroupCard {
  const card = el('article', 'alert group');
  card.dataset.testid = 'alert-group';
  const head = el('div', 'alert-head');
  const sev = el('span', 'sev');
  const st = el('span', 'state');
  const count = el('span', 'badge count-badge');
  count.dataset.testid = 'alert-group-count';
  const silencedBadge = el('span', 'badge silenced-badge');
  const age = el('span', 'age');
  const title = el('div', 'alert-title');
  title.dataset.testid = 'alert-group-title';
  // A group's title is long (rule and campaign) and its head holds the count: the title gets its own line.
  head.append(sev, st, count, silencedBadge, age);
  const summary = el('div', 'alert-summary');
  summary.dataset.testid = 'alert-group-summary';
  const chips = el('div', 'chips members-chips');
  const foot = el('div', 'alert-foot');
  const ackAll = button('button small ack-button', 'Acknowledge all', 'alert-group-ack', () => acknowledgeGroup(card.dataset.key));
  const silenceButton = button('button small secondary', 'Silence group…', 'alert-group-silence', () => {
    const group = currentGroup(card.dataset.key);
    if (group) openSilenceDialog(groupSilenceTarget(group));
  });
  const toggle = button('button link', 'Show all', 'alert-group-toggle', () => {
    const key = card.dataset.key ?? '';
    if (state.expanded.has(key)) state.expanded.delete(key);
    else state.expanded.add(key);
    scheduleRender();
  });
  foot.append(ackAll, silenceButton, toggle);
  const members = el('div', 'members');
  members.dataset.testid = 'alert-group-members';
  card.append(head, title, summary, chips, foot, members);
  return withParts(card, { sev, st, count, silencedBadge, age, title, summary, chips, ackAll, silenceButton, toggle, foot, members });
}

export function updateGroupCard(card: GroupCard, group: GroupItem, silenced: Map<string, Silence[]>): void {
  const p = card.parts;
  const now = Date.now();
  const members = group.members;
  const by = (predicate: (a: AlertView) => unknown) => members.filter(predicate).length;
  const known = {
    firing: by((a) => a.state === 'firing'),
    pending: by((a) => a.state === 'pending'),
    acknowledged: by((a) => a.state === 'firing' && a.acknowledged),
    silenced: by((a) => a.state !== 'resolved' && silenced.has(a.id)),
  };
  // The processor's totals cover alerts this screen never received; the page's own count covers the moment in between.
  const c = group.counts;
  const firing = Math.max(known.firing, c?.firing ?? 0);
  const pendingCount = Math.max(known.pending, c?.pending ?? 0);
  const acked = Math.max(known.acknowledged, c?.acknowledged ?? 0);
  const silencedCount = Math.max(known.silenced, c?.silenced ?? 0);
  const resolved = by((a) => a.state === 'resolved');
  const total = firing + pendingCount;
  const active = members.filter((a) => a.state !== 'resolved');
  const unackedFiring = members.filter((a) => a.state === 'firing' && !a.acknowledged && !state.ackPending.has(a.id));
  const allSilenced = total > 0 && silencedCount >= total;
  const topState = firing ? 'firing' : pendingCount ? 'pending' : 'resolved';
  card.className = `alert group sev-${group.severity} state-${topState}${topState === 'firing' && firing <= acked + silencedCount ? ' acked' : ''}${allSilenced ? ' silenced' : ''}`;
  card.dataset.groupKey = group.groupKey;
  card.dataset.count = String(total);
  setText(p.sev, group.severity);
  setText(p.st, topState);
  setText(p.count, `${fmtCount(total)} customer${total === 1 ? '' : 's'}`);
  p.silencedBadge.hidden = silencedCount === 0;
  setText(p.silencedBadge, allSilenced ? 'silenced' : `${fmtCount(silencedCount)} silenced`);
  setText(p.age, active.length ? `since ${fmtAge(now - Math.min(...active.map((a) => a.startsAt)))}` : '');
  const titleKey = `${group.rule}|${group.campaign}`;
  if (p.title.dataset.shown !== titleKey) {
    p.title.dataset.shown = titleKey;
    p.title.replaceChildren(
      document.createTextNode(group.rule.replaceAll('_', ' ')),
      el('span', 'subject-kind', group.campaign ? ' · campaign ' : ' · no campaign'),
      document.createTextNode(group.campaign),
    );
  }
  const parts = [`${fmtCount(firing)} firing`];
  if (pendingCount) parts.push(`${fmtCount(pendingCount)} pending`);
  if (acked) parts.push(`${fmtCount(acked)} acknowledged`);
  if (silencedCount) parts.push(`${fmtCount(silencedCount)} silenced`);
  if (resolved) parts.push(`${resolved} resolved`);
  if (active.length < total) parts.push(`${active.length} listed here`);
  setText(p.summary, parts.join(' · '));
  const shownChips = active.slice(0, MAX_GROUP_CHIPS).map((a) => `${a.subject.key} ${fmtNumber(a.value)}`);
  const hiddenCount = total - shownChips.length;
  setChips(p.chips, hiddenCount > 0 ? [...shownChips, `+${fmtCount(hiddenCount)} more`] : shownChips);
  const responder = state.role === 'responder';
  p.ackAll.hidden = !responder || unackedFiring.length === 0;
  setText(p.ackAll, unackedFiring.length < firing - acked ? `Acknowledge ${unackedFiring.length} listed` : `Acknowledge all ${unackedFiring.length}`);
  p.silenceButton.hidden = !responder || total === 0 || allSilenced;
  const open = state.expanded.has(card.dataset.key ?? group.key);
  p.toggle.hidden = members.length === 0;
  setText(p.toggle, open ? 'Hide' : `Show ${members.length}`);
  p.members.hidden = !open;
  if (open) {
    const shown = members.slice(0, MAX_GROUP_MEMBERS_SHOWN);
    syncChildren(p.members, shown, (a) => a.id, createMemberRow, (row, alert) => updateMemberRow(row, alert, silenced));
    if (members.length > shown.length) {
      const more = el('div', 'member more', `… and ${members.length - shown.length} more`);
      more.dataset.key = '__more';
      p.members.append(more);
    }
  } else if (p.members.childElementCount) {
    p.members.replaceChildren();
  }
}

function createMemberRow(): MemberRow {
  const row = el('div', 'member');
  row.dataset.testid = 'alert-member';
  const who = el('span', 'cust');
  const value = el('span', 'member-value');
  const state_ = el('span', 'member-state');
  const note = el('span', 'member-note');
  const ack = button('button ack-button small', 'Ack', 'alert-ack-button', () => acknowledge(row.dataset.alertId, ack));
  row.append(who, value, state_, note, ack);
  return withParts(row, { who, value, state: state_, note, ack });
}

function updateMemberRow(row: MemberRow, alert: AlertView, silenced: Map<string, Silence[]>): void {
  const p = row.parts;
  row.dataset.alertId = alert.id;
  const silences = silenced.get(alert.id) ?? [];
  row.className = `member state-${alert.state}${silences.length ? ' silenced' : ''}`;
  setText(p.who, alert.subject.key);
  setText(p.value, fmtNumber(alert.value));
  setText(p.state, alert.state);
  const note = alert.acknowledged ? `✓ ${alert.acknowledged.by}` : silences.length ? 'silenced' : '';
  setText(p.note, note);
  p.note.title = alert.reasons.join('\n');
  const canAck = state.role === 'responder' && !alert.acknowledged && alert.state !== 'resolved';
  p.ack.hidden = !canAck;
  p.ack.disabled = state.ackPending.has(alert.id);
}
