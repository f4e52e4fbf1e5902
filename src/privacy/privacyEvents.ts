// What a privacy event does, whatever its event time and however often it comes (each is idempotent): an erasure is
// never stored; a withdrawal or grant is recorded like any event when on time and seen first, and only in `events`
// (one row per id) when late or repeated. A grant older than the withdrawal in force is ignored (kept on record).
import type { VigilEvent } from '../contract/event.js';
import type { ErasureRequest } from '../contract/outputs.js';
import type { ConsentStore } from './consent.js';

/**
 * `erase`: the customer leaves all live state. `record`: stored and applied as any event. `withdrawn`: stored in
 * `events` only, and the customer leaves live scoring. `granted`: stored in `events` only, the budget told.
 */
export type PrivacyDecision = 'erase' | 'record' | 'withdrawn' | 'granted';

/** Updates the consent store for a withdrawal or grant, and says what the pipeline does with the event. */
export function privacyDecision(ev: VigilEvent, first: boolean, consent: ConsentStore): PrivacyDecision {
  if (ev.type === 'erase_request') return 'erase';
  if (ev.type === 'consent_withdrawn') {
    consent.withdraw(ev.customerId, ev.ts);
    return first ? 'record' : 'withdrawn';
  }
  const granted = consent.grant(ev.customerId, ev.ts);
  return first && granted ? 'record' : 'granted';
}

/** The request the processor carries out at its next checkpoint (ClickHouse, Redis, the stream). */
export function erasureRequest(ev: VigilEvent, streamSeq: number, liveState: boolean, redisEntries: number): ErasureRequest {
  const requestedBy = typeof ev.props?.requestedBy === 'string' ? ev.props.requestedBy.slice(0, 128) : '';
  return { customerId: ev.customerId, requestId: ev.id, requestedAt: ev.ts, requestedBy, via: ev.props?.via === 'cli' ? 'cli' : 'event', streamSeq, liveState, redisEntries };
}
