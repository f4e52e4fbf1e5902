import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NO_STRING, SnapshotReader, SnapshotWriter } from './snapshotCodec.js';
import { IdTable, MAX_ID_BYTES } from './idTable.js';
import { hashBytes } from './wtf8.js';

// Ids from a small pool, so inserts, finds and removes hit the same ids; with ASCII, 2- and 3-byte BMP, astral
// characters, lone surrogates (JSON.parse can make them) and the empty string.
const unit = fc.oneof(
  fc.integer({ min: 0x61, max: 0x64 }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('é', 'ж', '中', '\u{1F600}', '\u{10FFFF}', '\ud800', '\udfff', '\uffff'),
);
const idArb = fc.array(unit, { maxLength: 6 }).map((u) => u.join(''));
type Op = { op: 'insert' | 'remove' | 'find'; id: string };
const opArb: fc.Arbitrary<Op> = fc.record({ op: fc.constantFrom('insert', 'insert', 'remove', 'find'), id: idArb });

/** Every id the model holds is found at its slot and decodes back; nothing else is held. */
function agrees(t: IdTable, model: Map<string, number>): void {
  expect(t.size).toBe(model.size);
  for (const [id, slot] of model) {
    expect(t.find(id)).toBe(slot);
    expect(t.idOf(slot)).toBe(id);
  }
  expect(new Map(t.entries())).toEqual(model);
}

function roundTrip(t: IdTable, fresh = new IdTable({ initialSlots: 4 })): IdTable {
  const w = new SnapshotWriter();
  t.save(w, 'ids');
  expect(fresh.load(new SnapshotReader(w.finish()), 'ids')).toBe(true);
  return fresh;
}

describe('IdTable', () => {
  it('behaves as a Map from id to slot under random inserts, removes and finds, through growth and compaction', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
        // A tiny table: every probe run collides, the index and the slots grow, and the arena compacts often.
        const t = new IdTable({ initialSlots: 4, compactMinBytes: 1 });
        const model = new Map<string, number>();
        for (const { op, id } of ops) {
          if (op === 'insert') {
            const slot = t.insert(id);
            if (model.has(id)) expect(slot).toBe(model.get(id));
            else {
              expect([...model.values()]).not.toContain(slot);
              model.set(id, slot);
            }
          } else if (op === 'remove') {
            const slot = t.find(id);
            expect(slot).toBe(model.get(id) ?? -1);
            expect(t.remove(slot)).toBe(slot !== -1);
            model.delete(id);
          } else expect(t.find(id)).toBe(model.get(id) ?? -1);
          expect(t.size).toBe(model.size);
        }
        agrees(t, model);
        // Slots are reused: never more handed out than were ever held at once.
        expect(t.high).toBeLessThanOrEqual(ops.filter((o) => o.op === 'insert').length);
        agrees(roundTrip(t), model);
      }),
      { numRuns: 400, seed: 15 },
    );
  });

  it('finds every id through index sizes that give an entry’s slot more bits and its hash tag fewer, as a reader over its arrays does', () => {
    // From 4 slots to ~60,000: the index crosses sixteen powers of two, each a different split of an entry's bits.
    const t = new IdTable({ initialSlots: 4 });
    const model = new Map<string, number>();
    const check = () => {
      const reader = IdTable.over(t.arrays());
      for (const [id, slot] of model) {
        expect(t.find(id)).toBe(slot);
        expect(reader.findUtf8(Buffer.from(id), 0, id.length)).toBe(slot);
      }
      expect(t.find('absent')).toBe(-1);
    };
    for (let i = 0; i < 60_000; i++) {
      const id = `c${i}`;
      model.set(id, t.insert(id));
      // Every third id of the last thousand goes again: backward shifts move entries across their tags' runs.
      if (i % 3 === 0 && i >= 1_000) {
        const gone = `c${i - 1_000}`;
        expect(t.remove(model.get(gone)!)).toBe(true);
        model.delete(gone);
      }
      if ((i & (i - 1)) === 0) check();
    }
    check();
    expect(t.size).toBe(model.size);
    const restored = roundTrip(t);
    for (const [id, slot] of model) expect(restored.find(id)).toBe(slot);
  });

  it('keeps two ids with the same 32-bit hash apart, through removal of either', () => {
    // Found by search: FNV-1a with the finaliser maps both to 2953271982.
    const [a, b] = ['c693596', 'c1170850'];
    const h = (s: string) => hashBytes(Buffer.from(s), 0, s.length);
    expect(h(a)).toBe(h(b));
    const t = new IdTable({ initialSlots: 4 });
    const sa = t.insert(a);
    const sb = t.insert(b);
    expect(sa).not.toBe(sb);
    expect([t.find(a), t.find(b)]).toEqual([sa, sb]);
    t.remove(sa);
    expect([t.find(a), t.find(b)]).toEqual([-1, sb]);
    expect(t.insert(a)).toBe(sa);
    t.remove(sb);
    expect([t.find(a), t.find(b)]).toEqual([sa, -1]);
  });

  it('says whether a slot holds an id exactly as decoding it would, for any ids and any slot', () => {
    fc.assert(
      fc.property(fc.uniqueArray(idArb, { maxLength: 30 }), fc.array(idArb, { maxLength: 30 }), (held, asked) => {
        const t = new IdTable({ initialSlots: 4 });
        for (const id of held) t.insert(id);
        if (held.length > 0) t.remove(t.find(held[0]));
        for (let slot = -1; slot <= t.high; slot++) for (const id of [...held, ...asked]) expect(t.holds(slot, id), `${slot} ${JSON.stringify(id)}`).toBe(t.idOf(slot) === id);
      }),
      { numRuns: 300, seed: 16 },
    );
  });

  it('finds a well-formed id from its UTF-8 bytes as from its string', () => {
    const t = new IdTable({ initialSlots: 4 });
    const ids = ['c-1', 'ümlaut', '顧客', 'emoji-\u{1F600}', ''];
    ids.forEach((id) => t.insert(id));
    const msg = Buffer.from(`{"customerId":"${ids[3]}"}`);
    const start = msg.indexOf('emoji');
    expect(t.findUtf8(msg, start, msg.indexOf('"', start))).toBe(t.find(ids[3]));
    for (const id of ids) expect(t.findUtf8(Buffer.from(id), 0, Buffer.byteLength(id))).toBe(t.find(id));
    expect(t.findUtf8(Buffer.from('c-2'), 0, 3)).toBe(-1);
  });

  it('keeps a lone surrogate apart from the replacement character and from its neighbours', () => {
    const t = new IdTable({ initialSlots: 4 });
    const ids = ['x\ud800', 'x\ufffd', 'x\udc00', 'x\ud800\udc00', 'x\u{10000}'];
    const slots = ids.map((id) => t.insert(id));
    // '\ud800\udc00' is the pair that makes U+10000: the same string, so the same id.
    expect(slots[3]).toBe(slots[4]);
    expect(new Set(slots).size).toBe(4);
    for (const id of ids) expect(t.idOf(t.find(id))).toBe(id);
  });

  it('holds ids up to the longest the contract admits, and refuses one past the table’s length field', () => {
    const t = new IdTable({ initialSlots: 4 });
    // 1,024 UTF-16 units (config.ingest.limits' maximum), each 3 bytes: 3,072 bytes; and 512 astral characters.
    const longest = '\uffff'.repeat(1024);
    const astral = '\u{1F600}'.repeat(512);
    expect(t.idOf(t.insert(longest))).toBe(longest);
    expect(t.idOf(t.insert(astral))).toBe(astral);
    const atLimit = 'a'.repeat(MAX_ID_BYTES);
    expect(t.idOf(t.insert(atLimit))).toBe(atLimit);
    expect(() => t.insert('a'.repeat(MAX_ID_BYTES + 1))).toThrow(RangeError);
    expect(t.size).toBe(3);
    expect(roundTrip(t).idOf(t.find(astral))).toBe(astral);
  });

  it('keeps its arena bounded under churn: removed ids are compacted away and slots reused', () => {
    const t = new IdTable({ initialSlots: 16 });
    const live: number[] = [];
    for (let i = 0; i < 200_000; i++) {
      live.push(t.insert(`customer-${i}`));
      if (live.length > 1_000) t.remove(live.shift()!);
    }
    expect(t.size).toBe(1_000);
    expect(t.high).toBeLessThanOrEqual(1_001);
    // 1,000 ids of ~13 bytes: the index, the per-slot arrays and the arena with its garbage, well under 250 bytes each.
    expect(t.bytesPerId).toBeLessThan(250);
    expect(t.idOf(t.find('customer-199999'))).toBe('customer-199999');
    expect(t.find('customer-0')).toBe(-1);
  });

  it('loads the layout earlier versions wrote (ids one after another in slot order), lone surrogates included', () => {
    const old = new SnapshotWriter();
    old.strings('ids', ['p', null, 'q\ud800', null]);
    const loaded = new IdTable({ initialSlots: 4 });
    loaded.load(new SnapshotReader(old.finish()), 'ids');
    expect([...loaded.entries()]).toEqual([['p', 0], ['q\ud800', 2]]);
    // the free slots below the last one come out first, then new ones
    expect([loaded.insert('r'), loaded.insert('s'), loaded.insert('t')].sort()).toEqual([1, 3, 4]);
    expect(roundTrip(loaded).idOf(2)).toBe('q\ud800');
    const utf8 = new SnapshotWriter();
    utf8.utf8Strings('ids', new TextEncoder().encode('aç\u{1F600}x'), new Uint32Array([1, NO_STRING, 1, 3]));
    const fromUtf8 = new IdTable({ initialSlots: 4 });
    fromUtf8.load(new SnapshotReader(utf8.finish()), 'ids');
    expect([...roundTrip(fromUtf8).entries()]).toEqual([['a', 0], ['ç', 2], ['\u{1F600}x', 3]]);
    // two ids of lone surrogates that `strings` joins into one astral character still load as two
    const joined = new SnapshotWriter();
    joined.strings('ids', ['\ud800', '\udfff']);
    const pair = new IdTable({ initialSlots: 4 });
    pair.load(new SnapshotReader(joined.finish()), 'ids');
    expect([...pair.entries()]).toEqual([['\ud800', 0], ['\udfff', 1]]);
  });

  it('writes its arena as it lies: after churn a load keeps every slot, the free list and lookups, and no removed id’s bytes', () => {
    let seed = 11;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    // compactMinBytes high: the removed ids stay in the arena as garbage, which the blob must not carry.
    const t = new IdTable({ initialSlots: 4, compactMinBytes: 1 << 30 });
    for (let i = 0; i < 5_000; i++) t.insert(`cust-${Math.floor(rnd() * 1e9).toString(36)}-${i}`);
    // Gaps of every kind: single slots, runs, the first slot and a run at the end; then reuse of some, so ids no
    // longer lie in the arena in slot order; one id of each kind beyond ASCII.
    const removed: string[] = [];
    for (let slot = 0; slot < t.high; slot++) {
      if (slot === 0 || rnd() < 0.2 || slot > t.high - 40) {
        removed.push(t.idOf(slot)!);
        t.remove(slot);
      }
    }
    const long = `gone-${'z'.repeat(100)}`;
    t.remove(t.insert(long));
    removed.push(long);
    for (let i = 0; i < 300; i++) t.insert(`again-${i}`);
    ['ç-1', '\u{1F600}-2', 'lone-\ud800'].forEach((id) => t.insert(id));
    const w = new SnapshotWriter();
    t.save(w, 'ids');
    const blob = w.finish();
    const text = Buffer.from(blob).toString('latin1');
    expect(removed.filter((id) => text.includes(id))).toEqual([]);
    expect(text).toContain('again-299');
    const bulk = new IdTable({ initialSlots: 4 });
    bulk.load(new SnapshotReader(blob), 'ids');
    const placed = new IdTable({ initialSlots: 4 });
    placed.loadList(Array.from({ length: t.high }, (_, slot) => t.idOf(slot)));
    expect([...bulk.entries()]).toEqual([...t.entries()]);
    expect([...bulk.entries()]).toEqual([...placed.entries()]);
    for (const [id, slot] of t.entries()) expect(bulk.find(id)).toBe(slot);
    expect(bulk.find(removed[0])).toBe(-1);
    expect(bulk.idOf(bulk.find('lone-\ud800'))).toBe('lone-\ud800');
    // The same free slots come out in the same order as placing the ids one by one, then new ones.
    const next = (table: IdTable) => Array.from({ length: 1_200 }, (_, i) => table.insert(`new-${i}`));
    expect(next(bulk)).toEqual(next(placed));
    // The loaded table's garbage is counted: removals compact it as they would have the original.
    for (const [, slot] of [...bulk.entries()]) bulk.remove(slot);
    expect(bulk.size).toBe(0);
    expect(roundTrip(bulk).size).toBe(0);
  });

  it('refuses a checkpoint that holds an id twice, on either path', () => {
    const twice = (ids: string[]) => {
      const w = new SnapshotWriter();
      w.strings('ids', ids);
      return () => new IdTable({ initialSlots: 4 }).load(new SnapshotReader(w.finish()), 'ids');
    };
    expect(twice(['a', 'b', null as never, 'a'])).toThrow(/held already/);
    expect(twice(['ç', 'b', 'ç'])).toThrow(/held already/);
    // and in the arena's layout, with a slot that points past the arena
    const arena = (offsets: number[], lens: number[]) => {
      const w = new SnapshotWriter();
      w.array('ids.arena', new TextEncoder().encode('abab'));
      w.array('ids.offsets', new Uint32Array(offsets));
      w.array('ids.lens', new Uint16Array(lens));
      return () => new IdTable({ initialSlots: 4 }).load(new SnapshotReader(w.finish()), 'ids');
    };
    expect(arena([0, 2], [3, 3])).toThrow(/held already/);
    expect(arena([0, 3], [3, 3])).toThrow(/reaches past/);
    expect(arena([0, 2], [3, 0])).not.toThrow();
  });
});
