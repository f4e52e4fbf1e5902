// What a responder sees under pseudonymization: the same frame with the customer pseudonyms it holds replaced by
// the original ids still remembered in memory. Pure: the original is looked up, never stored here.
import type { AlertView, AtRiskEntry, Silence, WallFrame } from '../contract/frames.js';

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

function revealSilences(list: Silence[], reveal: Reveal): Silence[] {
  return list.map((s) => {
    if (!s.matchers.some((m) => m.op === '=' && reveal(m.value) !== undefined)) return s;
    return { ...s, matchers: s.matchers.map((m) => (m.op === '=' ? { ...m, value: reveal(m.value) ?? m.value } : m)) };
  });
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
