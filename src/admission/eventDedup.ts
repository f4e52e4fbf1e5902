// Remembers the ids of counted events while a duplicate of them could still be counted (within the allowed lateness).
import { IdTable } from '../shared/idTable.js';
import type { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';

/** Slots a new minute's table starts with: a quiet minute costs a few KB, a busy one grows by half again as it fills. */
const INITIAL_SLOTS = 256;

/**
 * Ids are kept in generations by event-time minute: a generation is dropped once all its minutes are older than
 * the watermark minus the allowed lateness, because an event that old is rejected as late before it gets here.
 * A generation is an id table over typed arrays (shared/idTable.ts), not a Set of strings: at a live rate millions of
 * ids are within the lateness, and as strings they filled the old generation of the heap for the collector to walk
 * and cost the checkpoint a string each to write.
 */
export class EventDedup {
  private readonly byMinute = new Map<number, IdTable>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** True when the id was new (and is now remembered); false for a duplicate. */
  firstSeen(id: string, tsMs: number): boolean {
    const minute = Math.floor(tsMs / 60_000);
    let table = this.byMinute.get(minute);
    if (table === undefined) {
      table = new IdTable({ initialSlots: INITIAL_SLOTS });
      this.byMinute.set(minute, table);
    }
    // An event's id lives in its own event-time minute: a redelivery has the same ts, so one table is enough.
    const before = table.size;
    table.insert(id);
    if (table.size === before) return false;
    this.count++;
    return true;
  }

  /** Each minute's ids as one block, straight from its table's bytes. */
  save(w: SnapshotWriter): void {
    const minutes: number[] = [];
    for (const [minute, table] of this.byMinute) {
      table.save(w, `dedup.v2.${minutes.length}`);
      minutes.push(minute);
    }
    w.json.dedupTables = minutes;
  }

  load(r: SnapshotReader): void {
    this.byMinute.clear();
    this.count = 0;
    const tables = r.json.dedupTables as number[] | undefined;
    if (tables !== undefined) {
      tables.forEach((minute, i) => {
        const table = new IdTable({ initialSlots: INITIAL_SLOTS });
        table.load(r, `dedup.v2.${i}`);
        this.byMinute.set(minute, table);
        this.count += table.size;
      });
      return;
    }
    // Checkpoints written before the tables: every minute's ids in one block of strings, or (older) JSON lists.
    const ids = r.strings('dedup.ids');
    const lists: [number, string[]][] =
      ids === null
        ? ((r.json.dedup ?? []) as [number, string[]][])
        : (() => {
            let at = 0;
            return (r.json.dedupMinutes as [number, number][]).map(([minute, n]): [number, string[]] => [minute, ids.slice(at, (at += n)) as string[]]);
          })();
    for (const [minute, list] of lists) for (const id of list) this.firstSeen(id, minute * 60_000);
  }

  /** Forgets minutes strictly before `minMs`. */
  expire(minMs: number): void {
    const limit = Math.floor(minMs / 60_000);
    for (const [minute, table] of this.byMinute) {
      if (minute < limit) {
        this.count -= table.size;
        this.byMinute.delete(minute);
      }
    }
  }
}
