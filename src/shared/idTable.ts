// Customer ids to dense slots in typed arrays only: an open-addressing hash index over ids kept as bytes in one arena,
// so a million customers cost a few typed arrays, not a million JS strings and Map entries for the collector to walk.
// Ids are kept as WTF-8 (wtf8.ts): a well-formed id's bytes are the UTF-8 of the message (findUtf8 looks them up).
// Linear probing with backward-shift deletion (no tombstones), load at most 3/4, the index grown by rehashing the
// stored hashes (any size: the home bucket scales the hash, no power of two); removed ids leave garbage in the arena
// until it is compacted, once it exceeds the live bytes. Customer ids and event ids (admission's dedup) live in one.
// An index entry is slot + 1 in its low bits and, above them, as many of the hash's low bits as the index's size
// leaves free (a tag; 9 bits at a million ids, more for smaller tables): a probe passes over another id's entry on
// the tag alone, without reading that slot's hash, length and bytes at random places (what a lookup mostly cost; a
// new event id probes ~8 entries at 3/4 load). The tag's width follows from the index's length, so a reader in
// another thread (over()) decodes entries as the owner wrote them.
// Over 400 lines on purpose: the index, the arena, the free list and the checkpoint layout keep one invariant together.
import { grownShared, sharedArray } from './sharedArrays.js';
import { NO_STRING, type SnapshotReader, type SnapshotWriter } from './snapshotCodec.js';
import { bytesOfLead, decode, encode, encoded, hashBytes, isAscii, unitsOfLead } from './wtf8.js';

const EMPTY = 0;
const NO_SLOT = -1;
const MAX_LOAD = 0.75;
/** Ids are at most 1,024 UTF-16 units (config.ingest.limits), 3,072 bytes; lengths are kept in 2 bytes. */
export const MAX_ID_BYTES = 0xfffe;
const INV_2_32 = 1 / 4294967296;

/** Bits an entry's slot + 1 takes in an index of `size` buckets: every slot is below `size` (the index is at most 3/4 full). */
const slotBitsFor = (size: number): number => 32 - Math.clz32(size);
/** The index entry of `slot` with hash `h`: slot + 1 in the low `bits`, the hash's low bits above them, sign bit clear. */
const entryOf = (slot: number, h: number, bits: number): number => ((h << bits) & 0x7fffffff) | (slot + 1);

export interface IdTableOptions {
  /** Slots allocated at first (at least 4). */
  initialSlots?: number;
  /** Garbage the arena may hold before it is compacted, at least (tests make it tiny to compact often). */
  compactMinBytes?: number;
  /** Factor by which slots, index and arena grow when full (default 1.5): less is less slack per id, more copying. */
  growth?: number;
}

/** The arrays a lookup reads: what a reader in another thread is handed (IdTable.over). */
export interface IdTableArrays {
  index: Int32Array;
  hashes: Uint32Array;
  offsets: Uint32Array;
  lens: Uint16Array;
  arena: Uint8Array;
}

/**
 * The arrays live on SharedArrayBuffers (sharedArrays.ts): a reader in another thread looks ids up in them (over()),
 * checking the owner's structure lock around each lookup, and takes the new arrays once `layout` has changed.
 */
export class IdTable {
  /** Hash buckets: slot + 1, or 0 for an empty bucket. */
  private index: Int32Array;
  private hashes: Uint32Array;
  private offsets: Uint32Array;
  /** Byte length + 1 per slot; 0 marks a free slot (whose `offsets` entry links the next free slot). */
  private lens: Uint16Array;
  private arena: Uint8Array;
  private arenaUsed = 0;
  private garbage = 0;
  private freeHead = NO_SLOT;
  private count = 0;
  /** Ids held with a byte of 0x80 or more: while none is, an id's UTF-16 length is its byte length (save needs no scan). */
  private nonAscii = 0;
  /** Slots ever handed out: every live slot is below it. */
  private highWater = 0;
  private readonly compactMinBytes: number;
  private readonly growth: number;
  /** Counts replacements of the arrays (growth, rehash, compaction): a sharer hands the new ones on when it moves. */
  private replaced = 0;

  constructor(opts: IdTableOptions = {}) {
    const slots = Math.max(4, opts.initialSlots ?? 1024);
    this.compactMinBytes = opts.compactMinBytes ?? 64 * 1024;
    this.growth = Math.max(1.1, opts.growth ?? 1.5);
    this.hashes = sharedArray(Uint32Array, slots);
    this.offsets = sharedArray(Uint32Array, slots);
    this.lens = sharedArray(Uint16Array, slots);
    this.index = sharedArray(Int32Array, Math.ceil(slots / MAX_LOAD) + 1);
    this.arena = sharedArray(Uint8Array, slots * 16);
  }

  /**
   * A table that only looks ids up, over another table's arrays (arrays(), posted to this thread): find() as the
   * owner's. The owner may change them meanwhile; the caller checks its structure lock around each lookup.
   */
  static over(a: IdTableArrays): IdTable {
    const t = new IdTable({ initialSlots: 4 });
    t.index = a.index;
    t.hashes = a.hashes;
    t.offsets = a.offsets;
    t.lens = a.lens;
    t.arena = a.arena;
    return t;
  }

  /** The arrays lookups read, as they are now (see `layout`). */
  arrays(): IdTableArrays {
    return { index: this.index, hashes: this.hashes, offsets: this.offsets, lens: this.lens, arena: this.arena };
  }

  /** Changes each time arrays() would give other arrays. */
  get layout(): number {
    return this.replaced;
  }

  /** Ids held. */
  get size(): number {
    return this.count;
  }

  /** One past the highest slot handed out: iterate slots below it and skip those !has(slot). */
  get high(): number {
    return this.highWater;
  }

  /** Bytes of the whole table (index, per-slot arrays, arena) over the ids it holds; what it adds per customer. */
  get bytesPerId(): number {
    const fixed = this.index.byteLength + this.hashes.byteLength + this.offsets.byteLength + this.lens.byteLength;
    return Math.round((fixed + this.arena.byteLength) / Math.max(1, this.count));
  }

  /** Bytes per slot of the arrays sized by slots, the index's share, and the mean id's bytes in the arena. */
  get bytesPerSlot(): number {
    const perSlot = this.hashes.BYTES_PER_ELEMENT + this.offsets.BYTES_PER_ELEMENT + this.lens.BYTES_PER_ELEMENT;
    const meanId = this.count === 0 ? 0 : (this.arenaUsed - this.garbage) / this.count;
    return Math.round(perSlot + this.index.byteLength / this.hashes.length + meanId);
  }

  has(slot: number): boolean {
    return slot >= 0 && slot < this.highWater && this.lens[slot] !== 0;
  }

  find(id: string): number {
    const n = encode(id);
    return this.lookup(encoded, 0, n, hashBytes(encoded, 0, n));
  }

  /** The slot of the id whose UTF-8 bytes are `bytes[start, end)`, or -1: a lookup straight from a message's bytes. */
  findUtf8(bytes: Uint8Array, start: number, end: number): number {
    return this.lookup(bytes, start, end, hashBytes(bytes, start, end));
  }

  /** The id's slot, a new one when it is not held. */
  insert(id: string): number {
    // encode first: it may replace the buffer `encoded` names (insertBytes copies out of it before anything else encodes).
    const n = encode(id);
    return this.insertBytes(encoded, 0, n);
  }

  /** As insert, from the id's WTF-8 bytes. */
  insertBytes(bytes: Uint8Array, start: number, end: number): number {
    const len = end - start;
    if (len > MAX_ID_BYTES) throw new RangeError(`an id of ${len} bytes is over the table's ${MAX_ID_BYTES}`);
    const h = hashBytes(bytes, start, end);
    const found = this.lookup(bytes, start, end, h);
    if (found !== NO_SLOT) return found;
    if (this.count + 1 > this.index.length * MAX_LOAD) this.rehash(Math.ceil(this.index.length * this.growth));
    let slot = this.freeHead;
    if (slot !== NO_SLOT) this.freeHead = this.offsets[slot] - 1;
    else {
      if (this.highWater === this.hashes.length) this.growSlots(Math.ceil(this.hashes.length * this.growth));
      slot = this.highWater++;
    }
    // An entry holds slot + 1 in the bits the index's size gives it (slotBitsFor); never short of them while the
    // index is at most 3/4 full, but a slot past the index would corrupt every entry it shares bits with.
    if (slot >= this.index.length) this.rehash(Math.ceil((slot + 1) / MAX_LOAD) + 1);
    // The arena copy comes first: growing the arena may compact it, which walks the live slots.
    if (this.arenaUsed + len > this.arena.length) this.makeRoom(len);
    // A copy within the same buffer (bytes may be the arena when re-inserting) is safe: the target is past arenaUsed.
    // Byte by byte for a short id: a subarray view for set() is an allocation per new id (a new event id per event).
    if (len <= 64) {
      const arena = this.arena;
      for (let i = start, j = this.arenaUsed; i < end; i++, j++) arena[j] = bytes[i];
    } else this.arena.set(bytes.subarray(start, end), this.arenaUsed);
    this.offsets[slot] = this.arenaUsed;
    this.arenaUsed += len;
    this.lens[slot] = len + 1;
    this.hashes[slot] = h;
    if (!isAscii(bytes, start, end)) this.nonAscii++;
    let b = this.home(h);
    while (this.index[b] !== EMPTY) if (++b === this.index.length) b = 0;
    this.index[b] = entryOf(slot, h, slotBitsFor(this.index.length));
    this.count++;
    return slot;
  }

  /** Frees a slot (it may be handed out again by insert); false when it holds no id. */
  remove(slot: number): boolean {
    if (!this.has(slot)) return false;
    const size = this.index.length;
    const mask = (1 << slotBitsFor(size)) - 1;
    let i = this.home(this.hashes[slot]);
    while ((this.index[i] & mask) !== slot + 1) if (++i === size) i = 0;
    // Backward shift: pull each later entry of the probe run back into the hole unless its home lies after the hole.
    for (let j = i + 1 === size ? 0 : i + 1; this.index[j] !== EMPTY; j = j + 1 === size ? 0 : j + 1) {
      const k = this.home(this.hashes[(this.index[j] & mask) - 1]);
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (stays) continue;
      this.index[i] = this.index[j];
      i = j;
    }
    this.index[i] = EMPTY;
    const start = this.offsets[slot];
    const end = start + this.lens[slot] - 1;
    if (!isAscii(this.arena, start, end)) this.nonAscii--;
    // Zeros in its place: a checkpoint carries the arena as it lies (save), and a removed id may be an erased customer's.
    // Byte by byte for a short id (the minute activity removes one about once per event), as insert copies it.
    if (end - start <= 64) for (let i = start; i < end; i++) this.arena[i] = 0;
    else this.arena.fill(0, start, end);
    this.garbage += this.lens[slot] - 1;
    this.lens[slot] = 0;
    this.offsets[slot] = this.freeHead + 1;
    this.freeHead = slot;
    this.count--;
    if (this.garbage >= this.compactMinBytes && this.garbage * 2 > this.arenaUsed) this.compact(0);
    return true;
  }

  /** The id held in a slot, decoded (a new string: for cold paths), or undefined for a free slot. */
  idOf(slot: number): string | undefined {
    if (!this.has(slot)) return undefined;
    return decode(this.arena, this.offsets[slot], this.offsets[slot] + this.lens[slot] - 1);
  }

  /** Whether the slot holds `id`, without decoding it: an ASCII id compares unit by unit, any other decodes. */
  holds(slot: number, id: string): boolean {
    if (!this.has(slot)) return false;
    const start = this.offsets[slot];
    const n = this.lens[slot] - 1;
    if (n !== id.length) return n > id.length && this.idOf(slot) === id;
    for (let i = 0; i < n; i++) {
      const b = this.arena[start + i];
      if (b >= 0x80) return this.idOf(slot) === id;
      if (b !== id.charCodeAt(i)) return false;
    }
    return true;
  }

  /** The slot's id bytes (a view into the arena, valid until the next insert or remove). */
  bytesOf(slot: number): Uint8Array {
    if (!this.has(slot)) return new Uint8Array(0);
    return this.arena.subarray(this.offsets[slot], this.offsets[slot] + this.lens[slot] - 1);
  }

  /** Every held id, decoded, in slot order. */
  *ids(): IterableIterator<string> {
    for (let slot = 0; slot < this.highWater; slot++) if (this.lens[slot] !== 0) yield this.idOf(slot)!;
  }

  /** Every held id with its slot, decoded, in slot order. */
  *entries(): IterableIterator<[string, number]> {
    for (let slot = 0; slot < this.highWater; slot++) if (this.lens[slot] !== 0) yield [this.idOf(slot)!, slot];
  }

  /** Forgets every id and slot. */
  clear(): void {
    this.index.fill(EMPTY);
    this.lens.fill(0);
    this.arenaUsed = 0;
    this.garbage = 0;
    this.freeHead = NO_SLOT;
    this.count = 0;
    this.nonAscii = 0;
    this.highWater = 0;
  }

  /**
   * Puts an id at a given slot (restoring a checkpoint, where slots are kept): slots skipped on the way become free.
   * The id must not be held yet and the slot must be at or past `high`.
   */
  place(slot: number, bytes: Uint8Array, start: number, end: number): void {
    if (slot < this.highWater) throw new RangeError(`slot ${slot} is below the slots handed out (${this.highWater})`);
    // Hand out slots up to it through the ordinary path, then free the ones before it.
    const skipped = this.highWater;
    if (this.hashes.length < slot) this.growSlots(Math.max(slot + 1, Math.ceil(this.hashes.length * this.growth)));
    this.highWater = slot;
    const saved = this.freeHead;
    this.freeHead = NO_SLOT;
    const got = this.insertBytes(bytes, start, end);
    if (got !== slot) throw new RangeError(`id placed at ${got}, not ${slot}: it is held already`);
    this.freeHead = saved;
    this.pushFree(skipped, slot);
  }

  /** Frees the slots [from, to) onto the free list, highest first: the lowest comes out first, as after loading. */
  private pushFree(from: number, to: number): void {
    for (let slot = to - 1; slot >= from; slot--) {
      this.offsets[slot] = this.freeHead + 1;
      this.freeHead = slot;
    }
  }

  /**
   * The arena as it lies, with each slot's offset and length + 1 (0: free), as three views the writer copies into the
   * blob whole in the checkpoint's synchronous step. Once slots are reused, ids lie in the arena in no order: walking
   * them in slot order to write them one after another (the layout of SnapshotWriter.strings, which earlier versions
   * wrote and read) cost a read at a random place per id, ~85 ms for a million ids on this machine. The arena's
   * garbage is zeros (remove() clears an id's bytes), so no removed id (an erased customer's) is written.
   */
  save(w: SnapshotWriter, name: string): void {
    const high = this.highWater;
    w.array(`${name}.arena`, this.arena.subarray(0, this.arenaUsed));
    w.array(`${name}.offsets`, this.offsets.subarray(0, high));
    w.array(`${name}.lens`, this.lens.subarray(0, high));
  }

  /**
   * Replaces every id with what `save` wrote under `name`, or what earlier versions wrote (SnapshotWriter.strings or
   * utf8Strings: the ids one after another in slot order); false when there is none.
   */
  load(r: SnapshotReader, name: string): boolean {
    const arena = r.array(`${name}.arena`, Uint8Array);
    if (arena !== null) {
      this.loadArena(arena, r.array(`${name}.offsets`, Uint32Array), r.array(`${name}.lens`, Uint16Array));
      return true;
    }
    const raw = r.utf8Strings(name);
    if (raw !== null && this.loadUtf8(raw.text, raw.lengths)) return true;
    const list = r.strings(name);
    if (list === null) return false;
    this.loadList(list);
    return true;
  }

  /**
   * The ids straight from their bytes; false when an id ends inside a character: `strings` joined two ids of lone
   * surrogates that make a pair ("\ud800", "\udfff") into one 4-byte character, which only decoding splits right.
   */
  private loadUtf8(text: Uint8Array, lengths: Uint32Array): boolean {
    this.clear();
    this.reserve(lengths.length, text.length);
    if (this.loadAscii(text, lengths)) return true;
    for (let slot = 0, at = 0; slot < lengths.length; slot++) {
      const n = lengths[slot];
      if (n === NO_STRING) continue;
      let end = at;
      let u = 0;
      while (u < n && end < text.length) {
        u += unitsOfLead(text[end]);
        end += bytesOfLead(text[end]);
      }
      if (u !== n || end > text.length) return false;
      this.place(slot, text, at, end);
      at = end;
    }
    this.freeUpTo(lengths.length);
    return true;
  }

  /**
   * The ids of a checkpoint whose every id is ASCII (its byte count is its length count), in one pass: the text copied
   * into the arena at once and each id indexed where it lies, without the per-id lookup, view and scan for its end of
   * place() (at a million customers and as many dedup ids, most of a restore's time). Slots and the free list come out
   * as place() and freeUpTo() leave them, and an id held twice is refused as place() refuses it. False (nothing
   * indexed) when some id is not ASCII or is longer than the table holds: loadUtf8 then places id by id.
   */
  private loadAscii(text: Uint8Array, lengths: Uint32Array): boolean {
    let units = 0;
    for (let slot = 0; slot < lengths.length; slot++) {
      const n = lengths[slot];
      if (n === NO_STRING) continue;
      if (n > MAX_ID_BYTES) return false;
      units += n;
    }
    if (units !== text.length || !isAscii(text, 0, text.length)) return false;
    this.arena.set(text, 0);
    let at = 0;
    // Slots from here to the next live one are free (pushed as place() pushes the slots it skips).
    let gap = 0;
    for (let slot = 0; slot < lengths.length; slot++) {
      const n = lengths[slot];
      if (n === NO_STRING) continue;
      this.pushFree(gap, slot);
      gap = slot + 1;
      this.adopt(slot, at, n);
      at += n;
    }
    this.arenaUsed = at;
    this.highWater = gap;
    this.freeUpTo(lengths.length);
    return true;
  }

  /**
   * What save() wrote: the arena copied as it lies and each live slot indexed where its id is, the free slots made
   * the free list as loadAscii leaves it. A slot whose id reaches past the arena, or an id held twice, is refused.
   */
  private loadArena(arena: Uint8Array, offsets: Uint32Array | null, lens: Uint16Array | null): void {
    if (offsets === null || lens === null || offsets.length !== lens.length) throw new RangeError('an id table without its offsets or lengths');
    this.clear();
    this.reserve(lens.length, arena.length);
    this.arena.set(arena, 0);
    let live = 0;
    let gap = 0;
    for (let slot = 0; slot < lens.length; slot++) {
      if (lens[slot] === 0) continue;
      const at = offsets[slot];
      const n = lens[slot] - 1;
      if (at + n > arena.length) throw new RangeError(`the id of slot ${slot} reaches past the table's ${arena.length} bytes`);
      this.pushFree(gap, slot);
      gap = slot + 1;
      this.adopt(slot, at, n);
      if (!isAscii(arena, at, at + n)) this.nonAscii++;
      live += n;
    }
    this.arenaUsed = arena.length;
    this.garbage = arena.length - live;
    this.highWater = gap;
    this.freeUpTo(lens.length);
  }

  /** Indexes the id at arena[at, at + n) at `slot`, in a table being loaded (no id is placed twice). */
  private adopt(slot: number, at: number, n: number): void {
    const { arena, index, hashes, lens } = this;
    const bits = slotBitsFor(index.length);
    const mask = (1 << bits) - 1;
    const h = hashBytes(arena, at, at + n);
    let b = this.home(h);
    for (let e = index[b]; e !== EMPTY; e = index[b]) {
      const other = (e & mask) - 1;
      if (hashes[other] === h && lens[other] === n + 1 && this.sameBytes(other, arena, at, at + n)) throw new RangeError(`id placed at ${slot}, not ${other}: it is held already`);
      if (++b === index.length) b = 0;
    }
    index[b] = entryOf(slot, h, bits);
    this.offsets[slot] = at;
    lens[slot] = n + 1;
    hashes[slot] = h;
    this.count++;
  }

  /** Replaces every id with those of a list by slot (null for a free slot). */
  loadList(list: readonly (string | null | undefined)[]): void {
    this.clear();
    this.reserve(list.length, 0);
    for (let slot = 0; slot < list.length; slot++) {
      const id = list[slot];
      if (id === null || id === undefined) continue;
      const n = encode(id);
      this.place(slot, encoded, 0, n);
    }
    this.freeUpTo(list.length);
  }

  /** Hands out every slot below `n` (free ones into the free list), so that the next new slot is `n` or a free one. */
  private freeUpTo(n: number): void {
    if (this.highWater >= n) return;
    if (this.hashes.length < n) this.growSlots(n);
    this.pushFree(this.highWater, n);
    // Free slots above the last live one come out after the ones below it: either order is a valid free list.
    this.highWater = n;
  }

  /** Rewrites the arena with only the live ids, in slot order, leaving `extra` bytes of room. */
  private compact(extra: number): void {
    const live = this.arenaUsed - this.garbage;
    const next = sharedArray(Uint8Array, Math.max(64, Math.ceil((live + extra) * this.growth)));
    let at = 0;
    for (let slot = 0; slot < this.highWater; slot++) {
      const len = this.lens[slot] - 1;
      if (len < 0) continue;
      next.set(this.arena.subarray(this.offsets[slot], this.offsets[slot] + len), at);
      this.offsets[slot] = at;
      at += len;
    }
    this.arena = next;
    this.arenaUsed = at;
    this.garbage = 0;
    this.replaced++;
  }

  /** Room for `len` more bytes: compacting when half the arena is garbage, else growing it. */
  /** Room for `slots` ids of `bytes` before a load: step by step, a million ids cost some thirty rehashes and copies. */
  private reserve(slots: number, bytes: number): void {
    if (this.hashes.length < slots) this.growSlots(slots);
    const indexSize = Math.ceil(slots / MAX_LOAD) + 1;
    if (this.index.length < indexSize) this.rehash(indexSize);
    if (this.arena.length - this.arenaUsed < bytes) {
      const next = sharedArray(Uint8Array, this.arenaUsed + bytes);
      next.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = next;
      this.replaced++;
    }
  }

  private makeRoom(len: number): void {
    if (this.garbage * 2 > this.arenaUsed) return this.compact(len);
    const next = sharedArray(Uint8Array, Math.max(this.arenaUsed + len, Math.ceil(this.arena.length * this.growth)));
    next.set(this.arena.subarray(0, this.arenaUsed));
    this.arena = next;
    this.replaced++;
  }

  private lookup(bytes: Uint8Array, start: number, end: number, h: number): number {
    const len1 = end - start + 1;
    const index = this.index;
    const bits = slotBitsFor(index.length);
    const mask = (1 << bits) - 1;
    // The tag an entry of this hash carries: an entry whose bits above `mask` differ holds another id.
    const tag = (h << bits) & 0x7fffffff;
    const home = this.home(h);
    for (let b = home; ; ) {
      const e = index[b];
      if (e === EMPTY) return NO_SLOT;
      const slot = (e & mask) - 1;
      // A reader racing a change (over()) may decode a slot past the arrays it holds: the typed arrays read undefined.
      // The tag stands in for the slot's stored hash (one fewer read at a random place); the bytes decide.
      if ((e & ~mask) === tag && this.lens[slot] === len1 && this.sameBytes(slot, bytes, start, end)) return slot;
      if (++b === index.length) b = 0;
      // Never for the owner (the index is at most 3/4 full); a reader racing a change (over()) must not go round forever.
      if (b === home) return NO_SLOT;
    }
  }

  private sameBytes(slot: number, bytes: Uint8Array, start: number, end: number): boolean {
    const a = this.arena;
    for (let i = start, j = this.offsets[slot]; i < end; i++, j++) if (a[j] !== bytes[i]) return false;
    return true;
  }

  /** The bucket a hash starts probing at: its fraction of 2³² scaled to the index size (any size, not a power of 2). */
  private home(h: number): number {
    return Math.floor(h * INV_2_32 * this.index.length);
  }

  private rehash(size: number): void {
    this.replaced++;
    this.index = sharedArray(Int32Array, size);
    const bits = slotBitsFor(size);
    for (let slot = 0; slot < this.highWater; slot++) {
      if (this.lens[slot] === 0) continue;
      const h = this.hashes[slot];
      let b = this.home(h);
      while (this.index[b] !== EMPTY) if (++b === size) b = 0;
      this.index[b] = entryOf(slot, h, bits);
    }
  }

  private growSlots(capacity: number): void {
    this.replaced++;
    this.hashes = grownShared(this.hashes, capacity);
    this.offsets = grownShared(this.offsets, capacity);
    this.lens = grownShared(this.lens, capacity);
  }
}

