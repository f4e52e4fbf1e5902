import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { customerToken, partitionOf } from '../cluster/partitioning.js';
import { MemoryConsentStore } from '../privacy/consent.js';
import { ManualClock } from '../shared/clock.js';
import { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { Admission } from './admit.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const enc = new TextEncoder();

function setup(over: { partition?: number; config?: Record<string, unknown> } = {}) {
  const clock = new ManualClock(NOW);
  const consent = new MemoryConsentStore();
  const admission = new Admission({ config: parseConfig(over.config ?? {}), consent, partition: over.partition });
  let seq = 0;
  const admit = (body: unknown, subject?: string) => {
    const o = body as { type?: string };
    return admission.admit({ subject: subject ?? `events.${o.type ?? 'x'}`, data: enc.encode(typeof body === 'string' ? body : JSON.stringify(body)), streamSeq: ++seq, receivedAt: clock.now() });
  };
  return { admission, admit, consent, clock };
}

const e = (id: string, type: string, over: Record<string, unknown> = {}) => ({ id, customerId: 'c1', type, ts: NOW - 1000, ...over });

describe('Admission', () => {
  it('admits a new on-time event with the watermark it was judged against', () => {
    const { admit } = setup();
    const r = admit(e('a', 'click'));
    expect(r).toMatchObject({ kind: 'ok', event: { id: 'a', customerId: 'c1' }, watermark: NOW - 1000 });
  });

  it('dead-letters what does not parse, with the parser\'s reason', () => {
    const { admit } = setup();
    expect(admit('{not json')).toMatchObject({ kind: 'dead-letter', reason: 'INVALID_JSON', outcome: 'rejected' });
  });

  it('dead-letters an event whose subject names another customer', () => {
    const { admit } = setup();
    expect(admit(e('a', 'click'), `events.click.${customerToken('someone-else')}`)).toMatchObject({ kind: 'dead-letter', reason: 'SUBJECT_MISMATCH' });
    expect(admit(e('b', 'click'), `events.click.${customerToken('c1')}`)).toMatchObject({ kind: 'ok' });
  });

  it('in a partition, dead-letters subjects of other partitions and tokens published past the mapping', () => {
    const { admit } = setup({ partition: 1, config: { cluster: { partitions: 4 } } });
    expect(admit(e('a', 'click'), 'events.click')).toMatchObject({ kind: 'dead-letter', reason: 'UNPARTITIONED' });
    expect(admit(e('a', 'click'), `events.part.2.click.${customerToken('c1')}`)).toMatchObject({ kind: 'dead-letter', reason: 'UNPARTITIONED' });
    let other = 'x0';
    for (let i = 0; partitionOf(customerToken(other), 4) === 1; i++) other = `x${i}`;
    expect(admit(e('b', 'click', { customerId: other }), `events.part.1.click.${customerToken(other)}`)).toMatchObject({ kind: 'dead-letter', reason: 'WRONG_PARTITION' });
  });

  it('answers late for an event behind the allowed lateness, and leaves the watermark where it was', () => {
    const { admit, admission } = setup();
    admit(e('a', 'click'));
    const r = admit(e('b', 'click', { ts: NOW - 1000 - 10 * 60_000 }));
    expect(r).toMatchObject({ kind: 'dead-letter', reason: 'LATE_EVENT', outcome: 'late' });
    if (r.kind === 'dead-letter') expect(r.detail).toMatch(/^event time is 600 s behind the watermark/);
    expect(admission.watermark(NOW)).toBe(NOW - 1000);
  });

  it('drops a redelivered event as a duplicate, and an event of a customer who withdrew consent', () => {
    const { admit, consent } = setup();
    admit(e('a', 'click'));
    expect(admit(e('a', 'click'))).toMatchObject({ kind: 'drop', why: 'duplicate' });
    consent.withdraw('c1', NOW - 2000);
    expect(admit(e('b', 'click'))).toMatchObject({ kind: 'drop', why: 'consent_withdrawn' });
  });

  it('lets privacy events through late or repeated, saying whether each was seen first and on time', () => {
    const { admit } = setup();
    admit(e('a', 'click'));
    expect(admit(e('w', 'consent_withdrawn'))).toMatchObject({ kind: 'privacy', first: true, late: false });
    expect(admit(e('w', 'consent_withdrawn'))).toMatchObject({ kind: 'privacy', first: false, late: false });
    expect(admit(e('old', 'consent_granted', { ts: NOW - 3_600_000 }))).toMatchObject({ kind: 'privacy', first: false, late: true });
    expect(admit(e('x', 'erase_request'))).toMatchObject({ kind: 'privacy', first: false, event: { type: 'erase_request' } });
  });

  it('keeps its watermark and the ids it has seen through a checkpoint', () => {
    const { admit, admission } = setup();
    admit(e('a', 'click'));
    const w = new SnapshotWriter();
    const { maxEventTs } = admission.save(w);
    const other = setup();
    other.admission.load(new SnapshotReader(w.finish()), maxEventTs);
    expect(other.admission.watermark(NOW)).toBe(NOW - 1000);
    expect(other.admit(e('a', 'click'))).toMatchObject({ kind: 'drop', why: 'duplicate' });
  });
});
