// What the contact budget reads of one customer, read from another thread: the windows' id table and arrays as
// CustomerWindows.share() hands them over (SharedArrayBuffers), each read checked against the owner's version words
// and done again when it raced a write, so that a worker thread can decide without waiting for the event loop.
import type { CustomerTouches } from '../budget/decision.js';
import { IdTable } from '../shared/idTable.js';
import { GENERATION, STRUCTURE, stripeOf } from '../shared/sharedArrays.js';
import { BucketRing, NibbleRing } from './bucketRing.js';
import { NEGATIVE_KINDS, NO_MINUTE, TOUCH_CHANNELS, type NegativeKind, type SharedWindows } from './customerWindows.js';

/**
 * One customer as the budget reads it, all of it from one moment of the owner's state. (Withdrawn consent is not
 * here: the budget reads it from the consent store, which the worker mirrors.)
 */
export interface CustomerRead {
  slot: number;
  touches: CustomerTouches;
}

/** A customer's window sums (indexed as TOUCH_CHANNELS), responses, last negative and zone: a batch's fast path. */
export interface CustomerSums {
  h24: Float64Array;
  d7: Float64Array;
  responses7d: number;
  lastNegativeKind: NegativeKind | null;
  lastNegativeMin: number | null;
  zone: string | null;
}

export function emptySums(): CustomerSums {
  return { h24: new Float64Array(TOUCH_CHANNELS.length), d7: new Float64Array(TOUCH_CHANNELS.length), responses7d: 0, lastNegativeKind: null, lastNegativeMin: null, zone: null };
}

/** How long a reader sleeps on the structure word while a change holds it (a checkpoint's load can take a second). */
const STRUCTURE_WAIT_MS = 5;

export class WindowsReader {
  private s!: SharedWindows;
  private ids!: IdTable;
  private readonly touch24h = TOUCH_CHANNELS.map(() => new NibbleRing(120, 12, 0));
  private readonly touch7d = TOUCH_CHANNELS.map(() => new NibbleRing(1440, 7, 0));
  private readonly resp7d = new BucketRing(1440, 7, Uint8Array, 0);
  /** Reads done again because they raced a write: for tests and the reader's metrics. */
  retries = 0;

  /**
   * `first`: what share() returned; `receive`: the next of the later hand-overs, in order, or undefined when none is
   * waiting (a worker wraps receiveMessageOnPort; the owner posts each before it moves the generation word).
   */
  constructor(
    first: SharedWindows,
    private readonly receive: () => SharedWindows | undefined,
    /** How long a read waits for a structural change to end before it gives up (the owner stopped inside one). */
    private readonly maxWaitMs = 10_000,
  ) {
    this.take(first);
  }

  /** The customer's touches, responses, last negative and zone, or null when it has no live state. */
  read(customerId: string, now: number): CustomerRead | null {
    const nowMin = Math.floor(now / 60_000);
    return this.consistent(customerId, (slot) => this.readSlot(slot, nowMin));
  }

  /**
   * What a batch's fast path reads (the window sums instead of the bucket series), into `into`, reused from id to id:
   * no array or object made per customer. Null when the customer has no live state.
   */
  readSums(customerId: string, now: number, into: CustomerSums): CustomerSums | null {
    const nowMin = Math.floor(now / 60_000);
    return this.consistent(customerId, (slot) => this.sumsOf(slot, nowMin, into));
  }

  /**
   * `readOne(slot)` for the customer's slot, between two equal, even looks at the words it depends on (the generation,
   * the structure, the slot's stripe), else again; null when the customer has no slot. readOne answers null when
   * what it read cannot be right (a zone past the names handed over): that read is done again too.
   */
  private consistent<T>(customerId: string, readOne: (slot: number) => T | null): T | null {
    let waitingSince = -1;
    for (;;) {
      const generation = Atomics.load(this.s.versions, GENERATION);
      if (generation !== this.s.generation) this.catchUp(generation);
      const v = this.s.versions;
      const structure = Atomics.load(v, STRUCTURE);
      if (structure & 1) {
        if (waitingSince < 0) waitingSince = performance.now();
        else if (performance.now() - waitingSince > this.maxWaitMs) throw new Error(`the windows' structure lock has been held for over ${this.maxWaitMs} ms: the owner stopped inside a change`);
        Atomics.wait(v, STRUCTURE, structure, STRUCTURE_WAIT_MS);
        continue;
      }
      const slot = this.ids.find(customerId);
      const stripe = slot === -1 ? -1 : Atomics.load(v, stripeOf(slot));
      const got = slot === -1 || stripe & 1 ? null : readOne(slot);
      const unchanged = Atomics.load(v, GENERATION) === generation && Atomics.load(v, STRUCTURE) === structure && (slot === -1 || Atomics.load(v, stripeOf(slot)) === stripe);
      if (unchanged && (slot === -1 || got !== null)) return got;
      this.retries++;
    }
  }

  private sumsOf(slot: number, nowMin: number, into: CustomerSums): CustomerSums | null {
    const s = this.s;
    const h = s.head[slot];
    for (let i = 0; i < TOUCH_CHANNELS.length; i++) {
      into.h24[i] = this.touch24h[i].sum(slot, h, nowMin);
      into.d7[i] = this.touch7d[i].sum(slot, h, nowMin);
    }
    into.responses7d = this.resp7d.sum(slot, h, nowMin);
    const lastNegative = s.lastNegative[slot];
    into.lastNegativeMin = lastNegative === NO_MINUTE ? null : lastNegative;
    into.lastNegativeKind = lastNegative === NO_MINUTE ? null : (NEGATIVE_KINDS[s.lastNegativeKind[slot]] ?? 'other');
    const zone = s.zone[slot];
    if (zone >= s.zones.length) return null;
    into.zone = zone === 0 ? null : s.zones[zone];
    return into;
  }

  private readSlot(slot: number, nowMin: number): CustomerRead | null {
    const s = this.s;
    const h = s.head[slot];
    const buckets = {} as CustomerTouches['buckets'];
    for (let i = 0; i < TOUCH_CHANNELS.length; i++) buckets[TOUCH_CHANNELS[i]] = { h24: this.touch24h[i].series(slot, h, nowMin), d7: this.touch7d[i].series(slot, h, nowMin) };
    const lastResponse = s.lastResponse[slot];
    const lastNegative = s.lastNegative[slot];
    const zone = s.zone[slot];
    // An index past the names handed over: the hand-over of the new name has not been taken yet (the caller goes round).
    if (zone >= s.zones.length) return null;
    return {
      slot,
      touches: {
        buckets,
        responses7d: this.resp7d.sum(slot, h, nowMin),
        lastResponseMin: lastResponse === NO_MINUTE ? null : lastResponse,
        lastNegative: lastNegative === NO_MINUTE ? null : { kind: NEGATIVE_KINDS[s.lastNegativeKind[slot]] ?? 'other', min: lastNegative },
        zone: zone === 0 ? null : s.zones[zone],
      },
    };
  }

  /**
   * Takes the hand-overs waiting, so that arrays the owner replaced are let go while no read comes (a thread that is
   * asked nothing for a while calls it on a timer).
   */
  takeWaiting(): void {
    const generation = Atomics.load(this.s.versions, GENERATION);
    if (generation !== this.s.generation) this.catchUp(generation);
  }

  /** Takes the hand-overs up to the owner's generation `to` (each was posted before the word moved to it). */
  private catchUp(to: number): void {
    while (this.s.generation < to) {
      const next = this.receive();
      if (next === undefined) throw new Error(`the windows moved to generation ${to} but the hand-over of ${this.s.generation + 1} is not here`);
      this.take(next);
    }
  }

  private take(s: SharedWindows): void {
    this.s = s;
    this.ids = IdTable.over(s.ids);
    for (let i = 0; i < TOUCH_CHANNELS.length; i++) {
      this.touch24h[i].adopt(s.touch24h[i]);
      this.touch7d[i].adopt(s.touch7d[i]);
    }
    this.resp7d.adopt(s.resp7d);
  }
}
