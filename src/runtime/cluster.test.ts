// The leader's campaign suppression samples, and the notifier a cluster's pipelines are given (silences only).
import { describe, expect, it } from 'vitest';
import type { OverloadCell } from '../contract/frames.js';
import type { Notifier } from '../alerts/notifier.js';
import { campaignSuppressions, clusterNotifier } from './cluster.js';

const cell = (over: Partial<OverloadCell>): OverloadCell => ({ kind: 'campaign', key: 'spring', touches24h: 0, overloadedCustomers: 0, negatives1h: 0, surgeZ: 0, ...over });

describe('campaignSuppressions', () => {
  it('samples each campaign checked in the window, with the channels that suppressed and the window in minutes', () => {
    const cells = [
      cell({ key: 'spring', checked: 40, suppressed: 7, suppressedByChannel: { email: 5, sms: 2, push: 0 } }),
      cell({ key: 'quiet', checked: 3, suppressed: 0 }),
      cell({ key: 'unchecked' }),
      cell({ kind: 'channel', key: 'email', checked: 40, suppressed: 5 }),
    ];
    expect(campaignSuppressions(cells, 15 * 60_000)).toEqual([
      { campaignId: 'spring', value: 7, reasons: ['7 of 40 customers checked were suppressed in the last 15 min (email 5, sms 2)'] },
      { campaignId: 'quiet', value: 0, reasons: ['0 of 3 customers checked were suppressed in the last 15 min (none)'] },
    ]);
  });

  it('has no sample without campaign cells', () => {
    expect(campaignSuppressions([], 60_000)).toEqual([]);
  });
});

describe('clusterNotifier', () => {
  it('hears no alert itself (the leader notifies from the cluster wall) but answers for silences', () => {
    const calls: string[] = [];
    const notifier = {
      onAlert: () => calls.push('onAlert'),
      tick: () => (calls.push('tick'), []),
      silencedBy: () => (calls.push('silencedBy'), null),
      addSilence: () => (calls.push('addSilence'), { ok: false, error: 'x' }),
      expireSilence: () => (calls.push('expireSilence'), true),
      listSilences: () => (calls.push('listSilences'), []),
      forgetSubject: () => void calls.push('forgetSubject'),
    } as unknown as Notifier;
    const n = clusterNotifier(notifier);
    n.onAlert({} as never, 0);
    expect(n.tick(0)).toEqual([]);
    n.silencedBy({}, 0);
    n.addSilence({} as never, 0);
    n.expireSilence('s1', 0);
    n.listSilences(0);
    n.forgetSubject('customer' as never, 'c1');
    expect(calls).toEqual(['silencedBy', 'addSilence', 'expireSilence', 'listSilences', 'forgetSubject']);
  });
});
