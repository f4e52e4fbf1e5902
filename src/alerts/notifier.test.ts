import { describe, expect, it } from 'vitest';
import type { AlertView } from '../contract/frames.js';
import { GroupPacer, groupDigest, groupKeyOf, type Notification } from './grouping.js';
import { Notifier } from './notifier.js';
import { compileMatchers, matches, silences, validateSilence, type CompiledMatcher, type Matcher } from './silences.js';
import { slackBody } from './webhook.js';
import { MemoryHash } from './writeBehindHash.js';
import { fatigueAlert } from './alertView.testing.js';

const policy = { groupBy: ['alertname', 'campaign'], groupWaitMs: 30_000, groupIntervalMs: 300_000, repeatIntervalMs: 3_600_000 };

let n = 0;
function alert(over: Partial<AlertView> & { customer?: string; campaign?: string } = {}): AlertView {
  const { customer, campaign, ...rest } = over;
  return fatigueAlert(customer ?? `c${++n}`, rest, campaign ? { campaign } : {});
}

describe('grouping and pacing', () => {
  it('keys a group by the configured labels', () => {
    expect(groupKeyOf({ alertname: 'r', campaign: 'x', subject_key: 'c1' }, ['alertname', 'campaign'])).toEqual({ key: 'alertname=r,campaign=x', labels: { alertname: 'r', campaign: 'x' } });
  });

  it('sends one notification for 312 customers of one campaign after the group wait', () => {
    const p = new GroupPacer(policy);
    for (let i = 0; i < 312; i++) p.add(alert({ campaign: 'spring' }), 1000 + i);
    expect(p.due(30_999)).toEqual([]);
    const [note] = p.due(31_000);
    expect(note.firing).toBe(312);
    expect(note.groupLabels).toEqual({ alertname: 'customer_contact_fatigue', campaign: 'spring' });
    expect(slackBody(note).text).toMatch(/^\[FIRING:312\] customer_contact_fatigue campaign=spring: 312 customers\n/);
  });

  it('sends changes no sooner than the group interval, and repeats an unchanged firing group after the repeat interval', () => {
    const p = new GroupPacer(policy);
    p.add(alert({ customer: 'a', campaign: 'x' }), 0);
    expect(p.due(30_000)).toHaveLength(1);
    p.add(alert({ customer: 'b', campaign: 'x' }), 40_000);
    expect(p.due(100_000)).toEqual([]);
    expect(p.due(330_000)[0].firing).toBe(2);
    expect(p.due(330_000 + 3_599_999)).toEqual([]);
    expect(p.due(330_000 + 3_600_000)).toHaveLength(1);
  });

  it('does not repeat a group whose alerts are all acknowledged', () => {
    const p = new GroupPacer(policy);
    p.add(alert({ customer: 'a' }), 0);
    p.due(30_000);
    p.add(alert({ customer: 'a', acknowledged: { by: 'ana', at: 1 } }), 40_000);
    expect(p.due(10_000_000)).toEqual([]);
  });

  it('sends a resolve once, then forgets the group', () => {
    const p = new GroupPacer(policy);
    p.add(alert({ customer: 'a' }), 0);
    p.due(30_000);
    p.add(alert({ customer: 'a', state: 'resolved' }), 50_000);
    const [note] = p.due(330_000);
    expect([note.firing, note.resolved]).toEqual([0, 1]);
    expect(p.groups.size).toBe(0);
  });

  it('keeps each group\'s digest equal to the one worked out in full, through adds, sends, resolves and outside changes (seeded walk)', () => {
    let seed = 99;
    const rand = (k: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % k;
    };
    const p = new GroupPacer(policy);
    const states = ['pending', 'firing', 'resolved'] as const;
    let now = 0;
    for (let step = 0; step < 5_000; step++) {
      now += rand(20_000);
      const op = rand(20);
      if (op < 15) p.add(alert({ customer: `c${rand(60)}`, campaign: `k${rand(3)}`, state: states[rand(3)] }), now);
      else if (op < 19) p.due(now);
      else {
        // An erasure's way: an alert taken out by hand, then contentChanged.
        const g = [...p.groups.values()][rand(Math.max(1, p.groups.size))];
        const fp = g ? Object.keys(g.alerts)[0] : undefined;
        if (g && fp) {
          delete g.alerts[fp];
          p.contentChanged(g);
        }
      }
      for (const g of p.groups.values()) expect(p.digestOf(g)).toBe(groupDigest(g));
    }
  });

  it('sees a group changed by a forgotten alert: an unchanged group is not resent, a changed one is', () => {
    const p = new GroupPacer(policy);
    p.add(alert({ customer: 'a', campaign: 'x' }), 0);
    p.add(alert({ customer: 'b', campaign: 'x' }), 0);
    expect(p.due(30_000)).toHaveLength(1);
    expect(p.due(400_000)).toEqual([]);
    const g = [...p.groups.values()][0];
    delete g.alerts['fp-b'];
    p.contentChanged(g);
    expect(p.due(400_000)[0].firing).toBe(1);
  });

  it('sees a group whose alert was swapped for another, as many as before, as changed', () => {
    const p = new GroupPacer(policy);
    p.add(alert({ customer: 'a', campaign: 'x' }), 0);
    p.add(alert({ customer: 'b', campaign: 'x' }), 0);
    expect(p.due(30_000)).toHaveLength(1);
    const g = [...p.groups.values()][0];
    delete g.alerts['fp-b'];
    p.add(alert({ customer: 'c', campaign: 'x' }), 40_000);
    expect(Object.keys(g.alerts)).toHaveLength(2);
    // After the group interval, not the repeat interval: the content is not what was sent.
    expect(p.due(330_000).map((note) => note.alerts.map((a) => a.subject.key))).toEqual([['a', 'c']]);
  });

  it('never notifies pending alerts, nor the resolve of one that never fired', () => {
    const p = new GroupPacer(policy);
    p.add(alert({ customer: 'a', state: 'pending' }), 0);
    p.add(alert({ customer: 'a', state: 'resolved' }), 10);
    expect(p.due(1_000_000)).toEqual([]);
  });
});

function compiled(matchers: Matcher[]): CompiledMatcher[] {
  const c = compileMatchers(matchers);
  if (typeof c === 'string') throw new Error(c);
  return c;
}

describe('silences', () => {
  const base = { startsAt: 0, endsAt: 100, createdBy: 'ana', comment: 'known issue' };
  it('match all matchers within the time range', () => {
    const s = { ...base, id: 's', createdAt: 0, matchers: [{ name: 'campaign', value: 'spr.*', op: '=~' as const }, { name: 'severity', value: 'critical', op: '!=' as const }] };
    const c = compiled(s.matchers);
    expect(silences(s, c, { campaign: 'spring', severity: 'warning' }, 50)).toBe(true);
    expect(silences(s, c, { campaign: 'spring', severity: 'critical' }, 50)).toBe(false);
    expect(silences(s, c, { campaign: 'spring', severity: 'warning' }, 100)).toBe(false);
    expect(matches(compiled([{ name: 'campaign', value: 'spr', op: '=~' }])[0], { campaign: 'spring' })).toBe(false); // anchored
  });

  it('refuse a silence that would hide everything or says nothing', () => {
    expect(validateSilence({ ...base, matchers: [{ name: 'campaign', value: '.*', op: '=~' }] })).toMatch(/must select something/);
    expect(validateSilence({ ...base, comment: ' ', matchers: [{ name: 'campaign', value: 'x', op: '=' }] })).toMatch(/comment/);
    expect(validateSilence({ ...base, endsAt: 0, matchers: [{ name: 'campaign', value: 'x', op: '=' }] })).toMatch(/endsAt/);
    expect(validateSilence({ ...base, matchers: [{ name: 'campaign', value: '(', op: '=~' }] })).toMatch(/not a valid RE2 regex/);
  });
});

describe('Notifier', () => {
  it('hands a receiver that groups by itself every unsilenced change at once, and lets it send at the tick', () => {
    const heard: string[] = [];
    let flushes = 0;
    const sent: Notification[] = [];
    const notifier = new Notifier(policy, new MemoryHash(), new MemoryHash(), [{ send: (x) => sent.push(x) }, { alert: (v) => heard.push(`${v.labels.subject_key}:${v.state}`), flush: () => flushes++ }]);
    notifier.addSilence({ matchers: [{ name: 'campaign', value: 'quiet', op: '=' }], startsAt: 0, endsAt: 1_000_000, createdBy: 'ana', comment: 'planned blast' }, 0);
    notifier.onAlert(alert({ customer: 'a', campaign: 'x' }), 1_000);
    notifier.onAlert(alert({ customer: 'b', campaign: 'quiet' }), 1_000);
    notifier.onAlert(alert({ customer: 'a', campaign: 'x', state: 'resolved' }), 2_000);
    expect(heard).toEqual(['a:firing', 'a:resolved']);
    notifier.tick(2_000);
    expect(flushes).toBe(1);
    // Vigil's own grouping still waits for the group wait before the grouped receiver hears anything.
    expect(sent).toEqual([]);
  });

  function setup() {
    const sent: Notification[] = [];
    const notifier = new Notifier(policy, new MemoryHash(), new MemoryHash(), [{ send: (x) => sent.push(x) }]);
    return { notifier, sent };
  }

  it('does not notify a silenced alert, and does once the silence is expired', () => {
    const { notifier, sent } = setup();
    const r = notifier.addSilence({ matchers: [{ name: 'campaign', value: 'spring', op: '=' }], startsAt: 0, endsAt: 1_000_000, createdBy: 'ana', comment: 'planned blast' }, 0);
    expect(r.ok).toBe(true);
    notifier.onAlert(alert({ customer: 'a', campaign: 'spring' }), 10);
    notifier.tick(100_000);
    expect(sent).toEqual([]);
    expect(notifier.silenced).toBe(1);
    notifier.expireSilence(r.ok ? r.silence.id : '', 100_000);
    notifier.onAlert(alert({ customer: 'b', campaign: 'spring' }), 100_001);
    notifier.tick(200_000);
    expect(sent).toHaveLength(1);
  });

  it('forgets a subject by exact key and exact label values only, never by substring', () => {
    const { notifier } = setup();
    const silence = (name: string, value: string, op: '=' | '!=' | '=~' | '!~') =>
      notifier.addSilence({ matchers: [{ name: 'alertname', value: 'customer_contact_fatigue', op: '=' }, { name, value, op }], startsAt: 0, endsAt: 1_000_000, createdBy: 'ana', comment: 'x' }, 0);
    for (const [customer, campaign] of [['c', 'spring'], ['abc', 'c1'], ['cc', 'cat'], ['d', 'c']]) notifier.onAlert(alert({ customer, campaign }), 10);
    const kept = [silence('subject_key', 'cc', '='), silence('campaign', 'c', '!='), silence('campaign', 'c.*', '=~'), silence('subject_key', 'abc', '=')];
    const gone = silence('subject_key', 'c', '=');
    const groupsBefore = notifier.tick(100_000).map((x) => x.groupKey);
    expect(groupsBefore).toHaveLength(4);
    // The alert of `c` (group spring, which then empties) and the group whose campaign is `c` go whole; one silence.
    expect(notifier.forgetSubject('customer', 'c')).toBe(3);
    const ids = notifier.listSilences(0).map((s) => s.id);
    expect(ids.sort()).toEqual(kept.map((r) => (r.ok ? r.silence.id : '')).sort());
    expect(ids).not.toContain(gone.ok ? gone.silence.id : '');
    notifier.onAlert(alert({ customer: 'abc', campaign: 'c1', state: 'resolved' }), 200_000);
    notifier.onAlert(alert({ customer: 'cc', campaign: 'cat', state: 'resolved' }), 200_000);
    // The groups of `abc` and `cc` are still there: their resolve is a change that is sent.
    expect(notifier.tick(10_000_000).map((x) => x.groupKey).sort()).toEqual(['alertname=customer_contact_fatigue,campaign=c1', 'alertname=customer_contact_fatigue,campaign=cat']);
  });
});
