// One alert's card: severity, state, subject, value against threshold, reasons, and Acknowledge / Silence… for responders.
import type { AlertView, Silence } from '../../../contract/frames.js';
import { acknowledge } from './commands.js';
import { button, el, setChips, setText, withParts, type WithParts } from './dom.js';
import { fmtAge, fmtNumber } from './format.js';
import { clockTime } from './matching.js';
import { alertSilenceTarget, openSilenceDialog } from './silenceForm.js';
import { state } from './state.js';

export type AlertCard = WithParts<
  HTMLElement,
  {
    sev: HTMLElement;
    st: HTMLElement;
    silencedBadge: HTMLElement;
    age: HTMLElement;
    title: HTMLElement;
    summary: HTMLElement;
    value: HTMLElement;
    chips: HTMLElement;
    ackButton: HTMLButtonElement;
    silenceButton: HTMLButtonElement;
    acked: HTMLElement;
    silencedNote: HTMLElement;
    foot: HTMLElement;
  }
>;

export function createAlertCard(): AlertCard {
  const card = el('article', 'alert');
  card.dataset.testid = 'alert-card';
  const head = el('div', 'alert-head');
  const sev = el('span', 'sev');
  const st = el('span', 'state');
  st.dataset.testid = 'alert-state';
  const silencedBadge = el('span', 'badge silenced-badge', 'silenced');
  silencedBadge.dataset.testid = 'alert-silenced';
  const age = el('span', 'age');
  const title = el('div', 'alert-title');
  title.dataset.testid = 'alert-subject';
  head.append(sev, st, silencedBadge, title, age);
  const summary = el('div', 'alert-summary');
  // One line under the head: the value against its threshold, then the reasons.
  const detail = el('div', 'alert-detail');
  const value = el('span', 'alert-value');
  value.dataset.testid = 'alert-value';
  const chips = el('span', 'chips');
  detail.append(value, chips);
  const foot = el('div', 'alert-foot');
  const ackButton = button('button small ack-button', 'Acknowledge', 'alert-ack-button', () => acknowledge(card.dataset.alertId, ackButton));
  const silenceButton = button('button small secondary', 'Silence…', 'alert-silence-button', () => {
    const alert = state.alerts.get(card.dataset.alertId ?? '');
    if (alert) openSilenceDialog(alertSilenceTarget(alert));
  });
  const acked = el('span', 'acked-by');
  acked.dataset.testid = 'alert-acknowledged';
  const silencedNote = el('span', 'silenced-note');
  foot.append(ackButton, silenceButton, acked, silencedNote);
  card.append(head, summary, detail, foot);
  return withParts(card, { sev, st, silencedBadge, age, title, summary, value, chips, ackButton, silenceButton, acked, silencedNote, foot });
}

export function updateAlertCard(card: AlertCard, alert: AlertView, silenced: Map<string, Silence[]>): void {
  const p = card.parts;
  const now = Date.now();
  const silences = silenced.get(alert.id) ?? [];
  card.className = `alert sev-${alert.severity} state-${alert.state}${alert.acknowledged ? ' acked' : ''}${silences.length ? ' silenced' : ''}`;
  card.dataset.alertId = alert.id;
  card.dataset.state = alert.state;
  card.dataset.silenced = silences.length ? 'true' : 'false';
  setText(p.sev, alert.severity);
  setText(p.st, alert.state);
  p.silencedBadge.hidden = silences.length === 0;
  const since = alert.state === 'resolved' && alert.endsAt ? `resolved ${fmtAge(now - alert.endsAt)} ago` : `${fmtAge(now - alert.startsAt)}`;
  setText(p.age, since);
  const titleKey = `${alert.rule}|${alert.subject.kind}|${alert.subject.key}`;
  if (p.title.dataset.shown !== titleKey) {
    p.title.dataset.shown = titleKey;
    // The rule's name already says what kind of subject it is about (campaign overload, customer churn risk).
    p.title.replaceChildren(document.createTextNode(alert.subject.key), el('span', 'subject-kind', ` · ${alert.rule.replaceAll('_', ' ')}`));
    p.title.title = `${alert.subject.kind} ${alert.subject.key} · ${alert.rule}`;
  }
  // The engine's default summary repeats the title and the value line; show only a rule's own words.
  const ownSummary = alert.summary && !alert.summary.startsWith(`${alert.subject.kind} ${alert.subject.key}:`) ? alert.summary : '';
  setText(p.summary, ownSummary);
  p.summary.hidden = !ownSummary;
  const valueKey = `${alert.value}|${alert.threshold}`;
  if (p.value.dataset.shown !== valueKey) {
    p.value.dataset.shown = valueKey;
    p.value.replaceChildren(el('b', '', fmtNumber(alert.value)), document.createTextNode(` vs ${fmtNumber(alert.threshold)}`));
    p.value.title = `value ${alert.value} against the threshold ${alert.threshold}`;
  }
  setChips(p.chips, alert.reasons, 2);
  const responder = state.role === 'responder';
  const canAck = responder && !alert.acknowledged && alert.state !== 'resolved';
  p.ackButton.hidden = !canAck;
  const pending = state.ackPending.has(alert.id);
  p.ackButton.disabled = pending;
  setText(p.ackButton, pending ? 'Acknowledging…' : 'Acknowledge');
  const canSilence = responder && alert.state !== 'resolved' && silences.length === 0;
  p.silenceButton.hidden = !canSilence;
  p.acked.hidden = !alert.acknowledged;
  setText(p.acked, alert.acknowledged ? `✓ Acknowledged by ${alert.acknowledged.by} · ${fmtAge(now - alert.acknowledged.at)} ago` : '');
  p.silencedNote.hidden = silences.length === 0;
  if (silences.length) {
    const s = silences[0];
    setText(p.silencedNote, `Silenced by ${s.createdBy} until ${clockTime(s.endsAt)}`);
    p.silencedNote.title = s.comment;
  }
  // Viewers get no empty button row: only acknowledged or silenced alerts keep a footer, to say by whom.
  p.foot.hidden = !canAck && !canSilence && !alert.acknowledged && silences.length === 0;
}
