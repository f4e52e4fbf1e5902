// The contract with Alertmanager: the webhook body holds every field of version 4 with its type, and the API alert
// carries the labels, annotations, times and link an Alertmanager route and a person need.
import { describe, expect, it } from 'vitest';
import type { AlertView } from '../contract/frames.js';
import { ManualClock } from '../shared/clock.js';
import { createLogger } from '../shared/logger.js';
import { AlertmanagerReceiver, ENDS_AFTER_RESENDS } from './alertmanager.js';
import { alertmanagerWebhookBody, labelName, toAmAlert, ZERO_TIME, type AmAlert } from './alertmanagerFormat.js';
import type { Notification } from './grouping.js';
import { fatigueAlert } from './alertView.testing.js';
import { webhookBody } from './webhook.js';

const T0 = Date.UTC(2025, 2, 1, 12, 0, 0);

function alert(key: string, over: Partial<AlertView> = {}): AlertView {
  return fatigueAlert(
    key,
    {
      fingerprint: `fp${key}`,
      reasons: ['3 emails in 24 h against an allowance of 1', 'customer value 412, at risk 120'],
      summary: `customer ${key}: fatigue 3 >= 1.5`,
      startsAt: T0,
      updatedAt: T0 + 5_000,
      ...over,
    },
    { campaign: 'spring', channel: 'email', 'team-name': 'crm' },
  );
}

const note = (alerts: AlertView[]): Notification => ({
  groupKey: 'alertname=customer_contact_fatigue,campaign=spring',
  groupLabels: { alertname: 'customer_contact_fatigue', campaign: 'spring' },
  alerts,
  firing: alerts.filter((a) => a.state === 'firing').length,
  resolved: alerts.filter((a) => a.state === 'resolved').length,
});

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const isStringMap = (m: unknown): boolean => typeof m === 'object' && m !== null && !Array.isArray(m) && Object.values(m).every((v) => typeof v === 'string');
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

describe('the Alertmanager webhook body (version 4)', () => {
  const opts = { format: 'alertmanager' as const, receiver: 'oncall', externalUrl: 'https://vigil.example.com/' };
  const body = JSON.parse(JSON.stringify(webhookBody(note([alert('a'), alert('b', { state: 'resolved', endsAt: T0 + 60_000 })]), opts))) as Record<string, unknown>;

  it('has every field Alertmanager sends, with its type', () => {
    expect(body.version).toBe('4');
    expect(typeof body.groupKey).toBe('string');
    expect(body.truncatedAlerts).toBe(0);
    expect(body.status).toBe('firing');
    expect(body.receiver).toBe('oncall');
    for (const k of ['groupLabels', 'commonLabels', 'commonAnnotations']) expect(isStringMap(body[k]), k).toBe(true);
    expect(typeof body.externalURL).toBe('string');
    expect(Array.isArray(body.alerts)).toBe(true);
    for (const a of body.alerts as Record<string, unknown>[]) {
      expect(Object.keys(a).sort()).toEqual(['annotations', 'endsAt', 'fingerprint', 'generatorURL', 'labels', 'startsAt', 'status']);
      expect(['firing', 'resolved']).toContain(a.status);
      expect(isStringMap(a.labels)).toBe(true);
      expect(isStringMap(a.annotations)).toBe(true);
      for (const name of Object.keys(a.labels as object)) expect(name).toMatch(LABEL);
      expect(a.startsAt).toMatch(ISO);
      expect(a.endsAt === ZERO_TIME || ISO.test(a.endsAt as string)).toBe(true);
      expect(typeof a.generatorURL).toBe('string');
      expect(typeof a.fingerprint).toBe('string');
    }
  });

  it('says what happened: labels, annotations, times, the link to the wall', () => {
    const [firing, resolved] = body.alerts as Record<string, Record<string, string> | string>[];
    expect(firing.labels).toEqual({ alertname: 'customer_contact_fatigue', severity: 'warning', subject_kind: 'customer', subject_key: 'a', campaign: 'spring', channel: 'email', team_name: 'crm' });
    expect(firing.annotations).toMatchObject({ summary: 'customer a: fatigue 3 >= 1.5', value: '3', threshold: '1.5', customer_value: '412' });
    expect((firing.annotations as Record<string, string>).reasons).toBe('3 emails in 24 h against an allowance of 1\ncustomer value 412, at risk 120');
    expect(firing.endsAt).toBe(ZERO_TIME);
    expect(firing.startsAt).toBe('2025-03-01T12:00:00.000Z');
    expect(firing.generatorURL).toBe('https://vigil.example.com/?alert=fpa');
    expect(resolved.status).toBe('resolved');
    expect(resolved.endsAt).toBe('2025-03-01T12:01:00.000Z');
    expect(body.externalURL).toBe('https://vigil.example.com/');
    expect(body.groupLabels).toEqual({ alertname: 'customer_contact_fatigue', campaign: 'spring' });
    expect(body.groupKey).toBe('{}:{alertname="customer_contact_fatigue", campaign="spring"}');
    expect(body.commonLabels).toEqual({ alertname: 'customer_contact_fatigue', severity: 'warning', subject_kind: 'customer', campaign: 'spring', channel: 'email', team_name: 'crm' });
    expect(body.commonAnnotations).toMatchObject({ value: '3', threshold: '1.5' });
    expect(body.commonAnnotations).not.toHaveProperty('summary');
  });

  it('is resolved when every alert is', () => {
    const b = alertmanagerWebhookBody(note([alert('c', { state: 'resolved', endsAt: T0 })]), opts);
    expect(b.status).toBe('resolved');
  });

  it('keeps the Slack-style body as a format', () => {
    const b = webhookBody(note([alert('a')]), { ...opts, format: 'slack' }) as { text: string; vigil: { firing: number } };
    expect(b.text).toMatch(/^\[FIRING:1\] customer_contact_fatigue campaign=spring: customer a/);
    expect(b.vigil.firing).toBe(1);
  });

  it('rewrites label names Alertmanager would refuse', () => {
    expect(['ok_name', 'team-name', '9lives', 'a.b', ''].map(labelName)).toEqual(['ok_name', 'team_name', '_9lives', 'a_b', '_']);
  });
});

describe('Alertmanager as a receiver', () => {
  const setup = (urls = ['http://am-1:9093', 'http://am-2:9093/']) => {
    const clock = new ManualClock(T0);
    const posts: { url: string; alerts: AmAlert[] }[] = [];
    let down = new Set<string>();
    const r = new AlertmanagerReceiver(
      { urls, resendIntervalMs: 60_000, timeoutMs: 1_000, initialBackoffMs: 1, maxBackoffMs: 1, queueSize: 10, maxAlerts: 2, externalUrl: 'http://127.0.0.1:8080' },
      clock,
      createLogger('silent'),
      async (url, body) => {
        if ([...down].some((d) => url.startsWith(d))) return 'connection refused';
        posts.push({ url, alerts: body as AmAlert[] });
        return null;
      },
    );
    return { clock, posts, r, setDown: (s: string[]) => (down = new Set(s)) };
  };
  const settle = () => new Promise((r) => setImmediate(r));

  it('posts to every Alertmanager of an HA pair; one down does not hold back the other', async () => {
    const { posts, r, setDown } = setup();
    setDown(['http://am-2']);
    r.alert(alert('a'));
    r.flush();
    await settle();
    expect(posts.map((p) => p.url)).toEqual(['http://am-1:9093/api/v2/alerts']);
    expect(r.stats.failures).toBeGreaterThan(0);
  });

  it('re-sends firing alerts every interval with an end a few intervals ahead; a resolved one ends once', async () => {
    const { clock, posts, r } = setup(['http://am-1:9093']);
    r.start();
    r.alert(alert('a'));
    r.flush();
    await settle();
    expect(posts[0].alerts[0].endsAt).toBe(new Date(T0 + ENDS_AFTER_RESENDS * 60_000).toISOString());
    clock.advance(60_000);
    await settle();
    expect(posts).toHaveLength(2);
    expect(posts[1].alerts[0].endsAt).toBe(new Date(T0 + 60_000 + ENDS_AFTER_RESENDS * 60_000).toISOString());
    r.alert(alert('a', { state: 'resolved', endsAt: T0 + 90_000 }));
    r.flush();
    await settle();
    expect(posts[2].alerts[0].endsAt).toBe(new Date(T0 + 90_000).toISOString());
    clock.advance(60_000);
    await settle();
    expect(posts).toHaveLength(3);
    r.stop();
  });

  it('holds at most maxAlerts firing alerts, and restores firing ones after a restart', () => {
    const { r } = setup(['http://am-1:9093']);
    r.restore([alert('a'), alert('b'), alert('c', { state: 'resolved' })]);
    expect(r.firingCount).toBe(2);
    r.alert(alert('d'));
    r.flush();
    expect(r.firingCount).toBe(2);
    expect(r.dropped).toBe(1);
    r.stop();
  });

  it('posts the changes heard between two ticks in one batch, the latest state of each alert once', async () => {
    const { posts, r } = setup(['http://am-1:9093']);
    r.alert(alert('a'));
    r.alert(alert('b'));
    r.alert(alert('a', { state: 'resolved', endsAt: T0 + 5_000 }));
    expect(posts).toHaveLength(0);
    r.flush();
    await settle();
    expect(posts).toHaveLength(1);
    expect(posts[0].alerts.map((a) => [a.labels.subject_key, a.endsAt])).toEqual([
      ['b', new Date(T0 + ENDS_AFTER_RESENDS * 60_000).toISOString()],
      ['a', new Date(T0 + 5_000).toISOString()],
    ]);
    expect(r.firingCount).toBe(1);
    r.flush();
    await settle();
    expect(posts).toHaveLength(1);
    r.stop();
  });

  it('an alert for the API carries the labels and the wall link', () => {
    const a = toAmAlert(alert('z'), 'http://127.0.0.1:8080', T0 + 240_000);
    expect(a.labels).toMatchObject({ alertname: 'customer_contact_fatigue', severity: 'warning', subject_kind: 'customer', subject_key: 'z', campaign: 'spring', channel: 'email' });
    expect(a.generatorURL).toBe('http://127.0.0.1:8080/?alert=fpz');
    expect(a.startsAt).toBe('2025-03-01T12:00:00.000Z');
  });
});
