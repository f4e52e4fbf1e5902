// What the processor's main thread and the contact budget's thread (budget.thread) say to each other: budgetThread.ts
// is the main thread's side, budgetWorker.ts the thread's. Types, and the two small functions both sides compute alike.
import type { MessagePort } from 'node:worker_threads';
import { FNV_OFFSET, FNV_PRIME } from '../shared/hash.js';
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

/**
 * Cells of BudgetThreadData.holders (a power of two): 4 MiB, whatever the number of customers. With as many customers
 * holding slots as there are cells, about 37 % of the cells are still 0.
 */
export const HOLDER_CELLS = 1 << 20;

/** A customer's cell in BudgetThreadData.holders: FNV-1a over the id's UTF-16 code units, the same on both threads. */
export function holderCell(customerId: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < customerId.length; i++) h = Math.imul(h ^ customerId.charCodeAt(i), FNV_PRIME);
  return (h >>> 0) & (HOLDER_CELLS - 1);
}

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
  /**
   * Customers holding a reservation on the thread, counted by holderCell (written by the thread only, as a customer's
   * first slot is taken and its last one goes): the main thread tells the thread of a touch only where its cell is
   * not 0, since a touch of a customer with no slot changes nothing there. Filled from `reservations` before the
   * thread says it started; until then every touch is told.
   */
  holders: Int32Array;
  /** The main thread's copy of the reservations: a thread started again after one died goes on from them. */
  reservations: ReservationsCopy;
}

/**
 * What the events change of the thread's inputs: sent on `control` in the order they were applied. A touch is posted
 * as its event is applied (budgetThread.ts says why), and only where the thread may hold a slot it uses (`holders`).
 */
export type ControlMessage =
  /** A touch that may use a reservation: the customer, the channel's index in BUDGET_CHANNELS, and when. */
  | { t: 'consume'; id: string; channel: number; at: number }
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
