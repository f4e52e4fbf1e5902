// A customer_contact_fatigue alert view for tests, firing, with what a test does not name filled in.
import type { AlertView } from '../contract/frames.js';

export function fatigueAlert(key: string, over: Partial<AlertView> = {}, labels: Record<string, string> = {}): AlertView {
  return {
    id: `id-${key}`,
    fingerprint: `fp-${key}`,
    rule: 'customer_contact_fatigue',
    severity: 'warning',
    state: 'firing',
    subject: { kind: 'customer', key },
    value: 3,
    threshold: 1.5,
    reasons: ['3 emails in 24 h against an allowance of 1'],
    labels: { alertname: 'customer_contact_fatigue', severity: 'warning', subject_kind: 'customer', subject_key: key, ...labels },
    summary: 'fatigue 3 >= 1.5',
    startsAt: 0,
    updatedAt: 0,
    endsAt: null,
    acknowledged: null,
    trigger: null,
    ...over,
  };
}
