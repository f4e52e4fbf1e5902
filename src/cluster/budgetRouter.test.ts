// Requests forwarded between processors are checked as a sender's are: whoever can publish on the partition subject.
import { describe, expect, it } from 'vitest';
import { parseOp } from './budgetRouter.js';

const enc = new TextEncoder();
const op = (v: unknown) => parseOp(enc.encode(JSON.stringify(v)));

describe('parseOp', () => {
  it('takes the operations a router sends', () => {
    expect(op({ op: 'check', req: { customerId: 'c1', channel: 'email', campaignId: null, priority: 'marketing' } })).toEqual({
      ok: true,
      value: { op: 'check', req: { customerId: 'c1', channel: 'email', campaignId: null, priority: 'marketing' } },
    });
    expect(op({ op: 'batch', req: { customerIds: ['a', 'b'], channel: 'sms', campaignId: 'x', priority: 'transactional' } }).ok).toBe(true);
    expect(op({ op: 'peek', customerId: 'c1' })).toEqual({ ok: true, value: { op: 'peek', customerId: 'c1' } });
  });
  it('refuses garbage, unknown operations and ill-formed ids with a reason', () => {
    expect(parseOp(enc.encode('[[[[[[[[[[1]]]]]]]]]]')).ok).toBe(false);
    expect(op({ op: 'drop' })).toEqual({ ok: false, reason: "op must be 'check', 'batch' or 'peek'" });
    expect(op({ op: 'batch', req: { customerIds: 'all', channel: 'email' } }).ok).toBe(false);
    expect(op({ op: 'check', req: { customerId: 'c\ud800', channel: 'email' } }).ok).toBe(false);
    expect(op(null).ok).toBe(false);
  });
});
