// What the processor's main thread and the contact budget's thread (budget.thread) say to each other: budgetThread.ts
// is the main thread's side, budgetWorker.ts the thread's. Types only.
import type { MessagePort } from 'node:worker_threads';
import type { VigilConfig } from '../config/schema.js';
import type { SharedWindows } from '../windows/customerWindows.js';
import type { BudgetCounts, ReservationsCopy } from './reservations.js';
import type { SettledChecks } from './settledChecks.js';
import type { BatchRequest } from './requests.js';

/** BudgetThreadData.touchCounts' cells. */
export const ANNOUNCED = 0;
export const TOLD = 1;

/** Touches the main thread said (before the windows took them) that the thread has not applied yet. */
export const untoldTouches = (counts: Int32Array): number => (Atomics.load(counts, ANNOUNCED) - Atomics.load(counts, TOLD)) | 0;

/** What the thread starts with. */
export interface BudgetThreadData {
  config: VigilConfig;
  /** CustomerWindows.share()'s first hand-over; the later ones come on `windowsPort`, read only by the WindowsReader. */
  windows: SharedWindows;
  windowsPort: MessagePort;
  /** ControlMessages, in the order the events made them; drained before every decision. */
  control: MessagePort;
  /** The customers whose consent is withdrawn at the start (ControlMessage `consent` tells the changes after it). */
  withdrawn: string[];
  /** The processor's clock as an offset from the system clock, in shared memory (OffsetClock). */
  clockOffset: BigInt64Array;
  /**
   * Touches said ([ANNOUNCED], by the main thread, before the windows take each) and told ([TOLD], by the thread, as
   * it applies each): a check that finds a touch said and not told after its windows read decides again once told.
   */
  touchCounts: Int32Array;
  /** The main thread's copy of the reservations: a thread started again after one died goes on from them. */
  reservations: ReservationsCopy;
}

/**
 * What the events change of the thread's inputs: sent on `control` in the order they were applied. A touch is posted
 * as its event is applied (budgetThread.ts says why), in columns that could carry several (each touch counts as one
 * message for the ReportFence).
 */
export type ControlMessage =
  /** Touches that used a reservation: customer, the channel's index in BUDGET_CHANNELS, and when. */
  | { t: 'consume'; ids: string[]; channels: Uint8Array; at: Float64Array }
  | { t: 'consent'; id: string; withdrawn: boolean }
  | { t: 'forget'; id: string };

/** The main thread's requests, on the worker's own port: the wall's HTTP routes forwarded, and the stop. */
export type ToBudgetThread =
  | { t: 'ask'; n: number; op: 'pressure'; customerId: string }
  | { t: 'ask'; n: number; op: 'batch'; req: BatchRequest }
  | { t: 'stop' };

export type FromBudgetThread =
  /** The service answers; `httpPort`: the port budget.httpPort bound (null without one). */
  | { t: 'started'; httpPort: number | null }
  | { t: 'failed'; code: string; message: string }
  /**
   * The checks settled since the last (sent together every few milliseconds), the thread's counts after them, and
   * how long its NATS answers took.
   */
  | {
      t: 'settled';
      checks: SettledChecks;
      /** How many ControlMessages it has applied now (ReportFence). */
      applied: number;
      counts: BudgetCounts;
      /** How long each answer since the last took, by endpoint (vigil_budget_check_duration_seconds). */
      checkMs: number[];
      batchMs: number[];
      /** Checks on budget.httpPort. */
      httpMs: number[];
    }
  | { t: 'answer'; n: number; ok: true; value: unknown }
  | { t: 'answer'; n: number; ok: false; message: string }
  /** The thread's NATS connection went down or came back. */
  | { t: 'nats'; connected: boolean }
  | { t: 'stopped' };
