// What a responder sees under pseudonymization: the same frame with the customer pseudonyms it holds replaced by
// the original ids still remembered in memory. Pure: the original is looked up, never stored here.
import type { AlertView, AtRiskEntry, Matcher, Silence, SilenceInput, WallFrame } from '../contract/frames.js';
import { PSEUDONYM_HEX_CHARS } from './pseudonym.js';

export type Reveal = (pseudonym: string) => string | undefined;

function revealAlert(a: AlertView, reveal: Reveal): AlertView {
  if (a.subject.kind !== 'customer') return a;
  const original = reveal(a.subject.key);
  if (original === undefined) return a;
  return {
    ...a,
    subject: { kind: 'customer', key: original },
    labels: a.labels.subject_key === a.subject.key ? { ...a.labels, subject_key: original } : a.labels,
    summary: a.summary.split(a.subject.key).join(original),
  };
}

function revealAtRisk(list: AtRiskEntry[], reveal: Reveal): AtRiskEntry[] {
  return list.map((e) => {
    const original = reveal(e.customerId);
    return original === undefined ? e : { ...e, customerId: original };
  });
}

const exact = (m: Matcher) => m.op === '=' || m.op === '!=';

function revealSilences(list: Silence[], reveal: Reveal): Silence[] {
  return list.map((s) => {
    if (!s.matchers.some((m) => exact(m) && reveal(m.value) !== undefined)) return s;
    return { ...s, matchers: s.matchers.map((m) => (exact(m) ? { ...m, value: reveal(m.value) ?? m.value } : m)) };
  });
}

/** The label a customer alert carries its (pseudonymized) customer id in: src/alerts/engine.ts alertLabels. */
export const CUSTOMER_KEY_LABEL = 'subject_key';

const PSEUDONYM_SHAPE = new RegExp(`^[0-9a-f]{${PSEUDONYM_HEX_CHARS}}$`);

export interface Pseudonyms {
  hash(id: string): string;
  original(pseudonym: string): string | undefined;
}

/**
 * A silence as it may be stored under pseudonymization: exact matchers on the customer key hold pseudonyms, so it
 * matches the pseudonymized alerts and neither Redis, the logs nor the viewers' list ever hold an original id. A
 * value is taken as an original when it is one still remembered, or when it is not shaped like a pseudonym (a
 * pseudonym the wall shows because its original was forgotten stays as it is). Regexes on the customer key are
 * refused: they would have to match the keyed hashes. A silence pinned to another kind of subject
 * (`subject_kind="campaign"`, say) is left alone, its keys not being customer ids.
 */
export function pseudonymizeSilence(input: SilenceInput, p: Pseudonyms): { ok: true; input: SilenceInput } | { ok: false; error: string } {
  if (input.matchers.some((m) => m.name === 'subject_kind' && m.op === '=' && m.value !== 'customer')) return { ok: true, input };
  const onKey = input.matchers.filter((m) => m.name === CUSTOMER_KEY_LABEL);
  if (onKey.length === 0) return { ok: true, input };
  if (onKey.some((m) => !exact(m))) {
    return { ok: false, error: `customer ids are pseudonymized: match customers by exact id (${CUSTOMER_KEY_LABEL} = or !=), not by regex` };
  }
  const stored = (value: string): string => {
    if (value === '') return value;
    const hashed = p.hash(value);
    if (p.original(hashed) === value) return hashed;
    if (p.original(value) !== undefined || PSEUDONYM_SHAPE.test(value)) return value;
    return hashed;
  };
  return { ok: true, input: { ...input, matchers: input.matchers.map((m) => (m.name === CUSTOMER_KEY_LABEL ? { ...m, value: stored(m.value) } : m)) } };
}

/** The frame with pseudonyms revealed where the original is known; frames without customer ids come back as they are. */
export function revealFrame(frame: WallFrame, reveal: Reveal): WallFrame {
  switch (frame.type) {
    case 'snapshot':
      return {
        ...frame,
        atRisk: revealAtRisk(frame.atRisk, reveal),
        alerts: frame.alerts.map((a) => revealAlert(a, reveal)),
        silences: revealSilences(frame.silences, reveal),
      };
    case 'at_risk':
      return { ...frame, atRisk: revealAtRisk(frame.atRisk, reveal) };
    case 'alert':
      return { ...frame, alert: revealAlert(frame.alert, reveal) };
    case 'silences':
      return { ...frame, silences: revealSilences(frame.silences, reveal) };
    default:
      return frame;
  }
}
