// Typed arrays on SharedArrayBuffers, and the sequence locks that let another thread of the process read them while
// this one writes: the customer windows and their id table are kept this way so that the contact budget's answers
// can be read from a worker thread without waiting for the event loop (README, "Where the budget's answers belong").
// A typed array over a SharedArrayBuffer reads and writes as fast as one over an ArrayBuffer; posting it to a worker
// shares its memory instead of copying it.

export type NumericArray = Int32Array | Uint32Array | Float64Array | Float32Array | Uint16Array | Uint8Array;

/** A typed array's constructor, as sharedArray() calls it: over a buffer. */
export interface NumericArrayCtor {
  new (buffer: SharedArrayBuffer): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
}

/** A zeroed (or `fill`ed) typed array of `length` elements on a SharedArrayBuffer of its own. */
export function sharedArray<C extends NumericArrayCtor>(ctor: C, length: number, fill = 0): InstanceType<C> {
  const a = new ctor(new SharedArrayBuffer(length * ctor.BYTES_PER_ELEMENT)) as InstanceType<C>;
  if (fill !== 0) a.fill(fill);
  return a;
}

/** A new shared array of `length` elements holding `a`'s values first, the rest `fill`ed (growth: never shrinks). */
export function grownShared<T extends NumericArray>(a: T, length: number, fill = 0): T {
  const next = sharedArray(a.constructor as unknown as NumericArrayCtor, length) as T;
  if (fill !== 0) next.fill(fill, a.length);
  next.set(a as never);
  return next;
}

/**
 * The version words of a writer's state, on one SharedArrayBuffer: a generation (bumped once the arrays themselves
 * are replaced: growth, a checkpoint loaded, a new zone name), a structure lock (odd while ids are inserted, removed or
 * moved), and STRIPES sequence locks chosen by slot (odd while a slot's values are being written). A reader takes a
 * value read between two equal, even loads of the words it depends on; any other read it does again. No bytes per
 * slot: a stripe covers every 4,096th slot, and a write to a neighbour only makes a read go round once more.
 */
export const STRIPES = 4096;
const STRIPE_MASK = STRIPES - 1;
export const GENERATION = 0;
export const STRUCTURE = 1;
const FIRST_STRIPE = 2;

export function versionWords(): Int32Array {
  return sharedArray(Int32Array, FIRST_STRIPE + STRIPES);
}

/** The word of the stripe that covers `slot`. */
export function stripeOf(slot: number): number {
  return FIRST_STRIPE + (slot & STRIPE_MASK);
}

/** Starts or ends a write the words' readers must not see half done (a stripe's or the structure's word). */
export function bump(words: Int32Array, word: number): void {
  Atomics.add(words, word, 1);
}

/** Ends a structural change: its word even again, and a reader that waited for it woken. */
export function endStructure(words: Int32Array): void {
  Atomics.add(words, STRUCTURE, 1);
  Atomics.notify(words, STRUCTURE);
}
