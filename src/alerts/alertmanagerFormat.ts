// Vigil's alerts as Alertmanager speaks them: the alert of its API v2 (`POST /api/v2/alerts`) and the body of its
// webhook (version 4), so any Alertmanager, or any receiver written for one, takes them unchanged. Pure.
import type { AlertView } from '../contract/frames.js';
import type { Notification } from './grouping.js';

/** An alert as Alertmanager's API v2 takes it (postableAlert). */
export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

/** An alert in Alertmanager's webhook body. */
export interface AmWebhookAlert extends AmAlert {
  status: 'firing' | 'resolved';
  fingerprint: string;
}

/** Alertmanager's webhook body, version 4 (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
export interface AmWebhookBody {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: AmWebhookAlert[];
}

/** Alertmanager's "no end yet" in its webhook body (Go's zero time). */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Alertmanager refuses label names outside [a-zA-Z_][a-zA-Z0-9_]*: a rule's own label with another name is rewritten. */
export function labelName(name: string): string {
  if (LABEL_NAME.test(name)) return name;
  const s = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(s) || s === '' ? `_${s}` : s;
}

/** Labels: alertname (the rule), severity, subject_kind, subject_key, and campaign, channel or segment when present. */
export function amLabels(a: AlertView): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a.labels)) if (v !== '') out[labelName(k)] = v;
  out.alertname = a.rule;
  out.severity = a.severity;
  out.subject_kind = a.subject.kind;
  out.subject_key = a.subject.key;
  return out;
}

const CUSTOMER_VALUE = /customer value (\d+(?:\.\d+)?)/;

/** Annotations: the summary, the reasons (one per line), value and threshold, and the customer value when known. */
export function amAnnotations(a: AlertView): Record<string, string> {
  const out: Record<string, string> = { summary: a.summary, value: String(a.value), threshold: String(a.threshold) };
  if (a.reasons.length > 0) {
    out.reasons = a.reasons.join('\n');
    out.description = a.reasons.join('; ');
  }
  for (const r of a.reasons) {
    const m = CUSTOMER_VALUE.exec(r);
    if (m) {
      out.customer_value = m[1];
      break;
    }
  }
  return out;
}

/** The wall, filtered to this alert. */
export function generatorUrl(externalUrl: string, a: AlertView): string {
  return `${externalUrl.replace(/\/+$/, '')}/?alert=${encodeURIComponent(a.fingerprint)}`;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * An alert for Alertmanager's API. A firing one ends at `firingEndsAt` (now plus a few resend intervals, as
 * Prometheus does), so Alertmanager resolves it by itself if Vigil stops re-sending; a resolved one ends when it did.
 */
export function toAmAlert(a: AlertView, externalUrl: string, firingEndsAt: number): AmAlert {
  const ended = a.state === 'resolved';
  return {
    labels: amLabels(a),
    annotations: amAnnotations(a),
    startsAt: iso(a.startsAt),
    endsAt: iso(ended ? (a.endsAt ?? a.updatedAt) : firingEndsAt),
    generatorURL: generatorUrl(externalUrl, a),
  };
}

function toWebhookAlert(a: AlertView, externalUrl: string): AmWebhookAlert {
  const resolved = a.state === 'resolved';
  return {
    status: resolved ? 'resolved' : 'firing',
    labels: amLabels(a),
    annotations: amAnnotations(a),
    startsAt: iso(a.startsAt),
    endsAt: resolved ? iso(a.endsAt ?? a.updatedAt) : ZERO_TIME,
    generatorURL: generatorUrl(externalUrl, a),
    fingerprint: a.fingerprint,
  };
}

/** The pairs every map has with the same value. */
function common(maps: Record<string, string>[]): Record<string, string> {
  if (maps.length === 0) return {};
  const out: Record<string, string> = { ...maps[0] };
  for (const m of maps.slice(1)) for (const k of Object.keys(out)) if (m[k] !== out[k]) delete out[k];
  return out;
}

/** Alertmanager's group key form: `{}:{alertname="x", campaign="y"}`. */
function amGroupKey(groupLabels: Record<string, string>): string {
  const pairs = Object.keys(groupLabels)
    .sort()
    .map((k) => `${labelName(k)}=${JSON.stringify(groupLabels[k])}`);
  return `{}:{${pairs.join(', ')}}`;
}

/** A grouped notification as Alertmanager's webhook sends it. */
export function alertmanagerWebhookBody(n: Notification, opts: { receiver: string; externalUrl: string }): AmWebhookBody {
  const alerts = n.alerts.map((a) => toWebhookAlert(a, opts.externalUrl));
  const groupLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(n.groupLabels)) groupLabels[labelName(k)] = v;
  return {
    version: '4',
    groupKey: amGroupKey(n.groupLabels),
    truncatedAlerts: 0,
    status: n.firing > 0 ? 'firing' : 'resolved',
    receiver: opts.receiver,
    groupLabels,
    commonLabels: common(alerts.map((a) => a.labels)),
    commonAnnotations: common(alerts.map((a) => a.annotations)),
    externalURL: opts.externalUrl,
    alerts,
  };
}
