// The silence dialog: which labels to match, for how long, by whom and why; a live count of what it would cover.
import type { AlertView, Matcher } from '../../../contract/frames.js';
import { send, type SilenceCommand } from './connection.js';
import { $, el, setText } from './dom.js';
import { matchesAll } from './matching.js';
import { ackBy, serverNow, state } from './state.js';

/** Labels offered as matchers, in this order, when the alert has them. */
const MATCHER_LABELS = ['alertname', 'campaign', 'channel', 'segment', 'subject_key', 'severity'];

export interface SilenceTarget {
  title: string;
  labels: Record<string, string>;
  /** Labels ticked when the dialog opens. */
  checked: Set<string>;
}

const silenceForm: { target: SilenceTarget | null; submitting: boolean } = { target: null, submitting: false };

const input = (id: string) => $(id) as HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;
const submitButton = () => $('silence-submit') as HTMLButtonElement;

/** Whether a silence was sent and its answer is awaited. */
export function silenceSubmitting(): boolean {
  return silenceForm.submitting;
}

/** A single alert: its rule plus what it is about (the customer, or the campaign, channel or segment). */
export function alertSilenceTarget(alert: AlertView): SilenceTarget {
  const kind = alert.subject.kind;
  const about = kind === 'campaign' || kind === 'channel' || kind === 'segment' ? kind : 'subject_key';
  return {
    title: `Silence ${alert.rule.replaceAll('_', ' ')} for ${kind} ${alert.subject.key}`,
    labels: alert.labels ?? {},
    checked: new Set(['alertname', about]),
  };
}

/** A group card: its rule and campaign, which is every customer alert of the group and those still to come. */
export function groupSilenceTarget(group: { rule: string; campaign: string }): SilenceTarget {
  const labels: Record<string, string> = { alertname: group.rule };
  if (group.campaign) labels.campaign = group.campaign;
  return {
    title: `Silence ${group.rule.replaceAll('_', ' ')}${group.campaign ? ` for campaign ${group.campaign}` : ''}`,
    labels,
    checked: new Set(Object.keys(labels)),
  };
}

function chosenMatchers(): Matcher[] {
  return [...$('silence-matchers').querySelectorAll<HTMLInputElement>('input[type=checkbox]:checked')].map((box) => ({
    name: box.dataset.name ?? '',
    op: '=' as const,
    value: box.dataset.value ?? '',
  }));
}

function updateSilencePreview(): void {
  const matchers = chosenMatchers();
  const node = $('silence-preview');
  if (matchers.length === 0) {
    setText(node, 'Choose at least one label.');
    node.dataset.count = '0';
    return;
  }
  const count = [...state.alerts.values()].filter((a) => a.state !== 'resolved' && matchesAll(matchers, a.labels)).length;
  node.dataset.count = String(count);
  setText(node, `Matches ${count} active alert${count === 1 ? '' : 's'} on the wall now, and any new ones while it lasts.`);
}

export function openSilenceDialog(target: SilenceTarget): void {
  silenceForm.target = target;
  silenceForm.submitting = false;
  setText($('silence-title'), target.title);
  const fieldset = $('silence-matchers');
  for (const row of fieldset.querySelectorAll('label')) row.remove();
  for (const name of MATCHER_LABELS) {
    const value = target.labels[name];
    if (value === undefined || value === '') continue;
    const row = el('label', 'matcher');
    const box = el('input');
    box.type = 'checkbox';
    box.checked = target.checked.has(name);
    box.dataset.name = name;
    box.dataset.value = value;
    box.dataset.testid = `silence-matcher-${name}`;
    box.addEventListener('change', updateSilencePreview);
    row.append(box, el('code', '', `${name} = ${value}`));
    fieldset.append(row);
  }
  input('silence-comment').value = '';
  input('silence-by').value = ackBy ?? '';
  $('silence-error').hidden = true;
  submitButton().disabled = false;
  setText($('silence-submit'), 'Silence');
  updateSilencePreview();
  ($('silence-dialog') as HTMLDialogElement).showModal();
  $('silence-comment').focus();
}

export function silenceFormError(message: string): void {
  silenceForm.submitting = false;
  const node = $('silence-error');
  node.textContent = message;
  node.hidden = false;
  submitButton().disabled = false;
  setText($('silence-submit'), 'Silence');
}

function submitSilence(event: Event): void {
  event.preventDefault();
  if (silenceForm.submitting) return;
  const matchers = chosenMatchers();
  const comment = input('silence-comment').value.trim();
  if (matchers.length === 0) return silenceFormError('Choose at least one label to match.');
  if (!comment) return silenceFormError('Say why: the comment is what the next person on call reads.');
  const by = input('silence-by').value.trim();
  const durationMs = Number(input('silence-duration').value);
  const message: SilenceCommand = { type: 'silence', matchers, endsAt: serverNow() + durationMs, comment };
  if (by) message.by = by;
  if (!send(message)) return silenceFormError('Not connected: the silence was not sent. Try again when the wall is live.');
  silenceForm.submitting = true;
  $('silence-error').hidden = true;
  submitButton().disabled = true;
  setText($('silence-submit'), 'Silencing…');
}

export function closeSilenceDialog(): void {
  silenceForm.submitting = false;
  silenceForm.target = null;
  ($('silence-dialog') as HTMLDialogElement).close();
}

export function wireSilenceForm(): void {
  $('silence-form').addEventListener('submit', submitSilence);
  $('silence-comment').addEventListener('input', () => {
    if (!silenceForm.submitting) $('silence-error').hidden = true;
  });
  $('silence-cancel').addEventListener('click', closeSilenceDialog);
}
