// The types the pipeline's steps and its callers share: a message in, its outcome, a customer's signals.
import type { RejectReason } from '../admission/parse.js';
import type { ChurnSignal } from '../signals/churn.js';
import type { EngagementSignal } from '../signals/engagement.js';
import type { ExperienceSignal } from '../signals/experience.js';
import type { FatigueSignal } from '../signals/fatigue.js';
import type { CustomerView } from '../windows/customerWindows.js';

// The brand experience signal's type lives with its formula; the pipeline's callers find it here with the others.
export type { ExperienceSignal };

/** One stream message as the JetStream handler hands it over. */
export interface InboundMessage {
  subject: string;
  data: Uint8Array;
  streamSeq: number;
  receivedAt: number;
}

/** Why an event was processed or not; the counters behind /metrics. */
export type Outcome = 'processed' | 'duplicate' | 'late' | 'rejected' | 'dropped_consent';

/** A customer's signals as of an event-time minute (score step); the view is only valid until the next call. */
export interface CustomerSignals {
  view: CustomerView;
  engagement: EngagementSignal;
  churn: ChurnSignal;
  fatigue: FatigueSignal;
  experience: ExperienceSignal;
}

/**
 * Reasons the pipeline itself gives, beside the parser's: WRONG_PARTITION is an event whose subject puts it in a
 * partition that is not its customer token's (published straight to `<prefix>.part.<k>…`, past the server's mapping).
 */
export type PipelineRejectReason = RejectReason | 'WRONG_PARTITION';
