// The privacy step of the pipeline: what a withdrawal, a grant and an erasure request do to the live state (windows,
// at-risk list, alerts, notification groups, budget, unwritten minute rows, consent record, pseudonym), and the
// erasure requests queued for the processor to carry out at its next checkpoint (ClickHouse, Redis, the stream).
import type { VigilEvent } from '../contract/event.js';
import type { ErasureRequest, PipelineOutputs } from '../contract/outputs.js';
import type { InboundMessage } from '../contract/pipeline.js';
import type { AlertDesk } from '../alerts/alertDesk.js';
import type { ApplyStep } from '../windows/apply.js';
import type { LiveView } from '../wall/liveView.js';
import type { ConsentStore } from './consent.js';
import { erasureRequest, privacyDecision } from './privacyEvents.js';
import type { Pseudonymizer } from './pseudonym.js';

export interface LivePrivacyDeps {
  consent: ConsentStore;
  pseudonymizer?: Pseudonymizer | null;
  outputs: Pick<PipelineOutputs, 'event' | 'unstored'>;
  state: Pick<ApplyStep, 'windows' | 'budget' | 'forgetActivity'>;
  desk: Pick<AlertDesk, 'engine' | 'notifier'>;
  live: Pick<LiveView, 'forget' | 'resend'>;
}

/** `record`: the pipeline stores and applies the event as any other. `done`: handled here, counted as processed. */
export type PrivacyStepResult = 'record' | 'done';

export class LivePrivacy {
  private erasures: ErasureRequest[] = [];

  constructor(private readonly deps: LivePrivacyDeps) {}

  /** erase_request, consent_withdrawn, consent_granted: see privacyEvents.ts for what each one does. */
  handle(ev: VigilEvent, msg: InboundMessage, first: boolean, replaying: boolean): PrivacyStepResult {
    const { outputs } = this.deps;
    const decision = privacyDecision(ev, first, this.deps.consent);
    // A repeat's `events` row replaces the first one's (same id), stream sequence included: the new one is indexed.
    if (decision !== 'erase' && !first) outputs.unstored?.({ customerId: ev.customerId, streamSeq: msg.streamSeq, receivedAt: msg.receivedAt, reason: 'privacy_repeat' });
    switch (decision) {
      case 'erase':
        this.erase(ev, msg.streamSeq);
        return 'done';
      case 'record':
        return 'record';
      case 'withdrawn':
        outputs.event(ev, { streamSeq: msg.streamSeq, receivedAt: msg.receivedAt });
        this.withdrawn(ev, replaying);
        return 'done';
      case 'granted':
        outputs.event(ev, { streamSeq: msg.streamSeq, receivedAt: msg.receivedAt });
        // The contact budget reads consent from the store: told, it lifts (or keeps) the customer's suppression.
        this.deps.state.budget.onEvent(ev, -1, replaying);
        return 'done';
    }
  }

  /** The customer leaves live scoring after a withdrawal; senders are told at once (every channel suppressed). */
  withdrawn(ev: VigilEvent, replaying: boolean): void {
    if (this.forgetLive(ev.customerId).held) this.deps.live.resend();
    this.deps.state.budget.onEvent(ev, -1, replaying);
  }

  /** The erasure requests handled since the last call, for the processor to carry out. */
  takeErasures(): ErasureRequest[] {
    const out = this.erasures;
    this.erasures = [];
    return out;
  }

  /**
   * Drops a customer from live scoring: windows, the at-risk list, alerts and their notification groups. Returns
   * whether anything was held, and how many entries of Redis-backed state (alerts, groups, silences) went.
   */
  private forgetLive(customerId: string): { held: boolean; redisEntries: number } {
    const { state, desk, live } = this.deps;
    const inWindows = state.windows.remove(customerId);
    const atRisk = live.forget(customerId);
    const alerts = desk.engine.forgetSubject({ kind: 'customer', key: customerId });
    const groups = desk.notifier?.forgetSubject('customer', customerId) ?? 0;
    return { held: inWindows || atRisk || alerts + groups > 0, redisEntries: alerts + groups };
  }

  /**
   * An erase_request: the customer leaves every piece of live state now, including minute buckets not yet
   * written, the consent record and the pseudonym's original; the rest goes at the next checkpoint.
   */
  private erase(ev: VigilEvent, streamSeq: number): void {
    const id = ev.customerId;
    const live = this.forgetLive(id);
    this.deps.state.budget.forget(id);
    this.deps.state.forgetActivity(id);
    const consentRecord = this.deps.consent.isWithdrawn(id) ? 1 : 0;
    this.deps.consent.forget(id);
    this.deps.pseudonymizer?.forget(id);
    this.erasures.push(erasureRequest(ev, streamSeq, live.held, live.redisEntries + consentRecord));
    // Every screen drops the customer at once: a snapshot supersedes what the wall clients hold.
    this.deps.live.resend();
  }
}
