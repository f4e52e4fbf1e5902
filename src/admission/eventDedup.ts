// Remembers the ids of counted events while a duplicate of them could still be counted (within the allowed lateness).
import type { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';

/**
 * Ids are kept in generations by event-time minute: a generation is dropped once all its minutes are older than
 * the watermark minus the allowed lateness, because an event that old is rejected as late before it gets here.
 */
export class EventDedup {
  private readonly byMinute = new Map<number, Set<string>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** True when the id was new (and is now remembered); false for a duplicate. */
  firstSeen(id: string, tsMs: number): boolean {
    const minute = Math.floor(tsMs / 60_000);
    let set = this.byMinute.get(minute);
    if (set === undefined) {
      set = new Set();
      this.byMinute.set(minute, set);
    } else if (set.has(id)) {
      return false;
    }
    // An event's id lives in its own event-time minute: a redelivery has the same ts, so one lookup is enough.
    set.add(id);
    this.count++;
    return true;
  }

  /** At a high rate millions of ids are within the lateness: they go as one block of strings, minute by minute. */
  save(w: SnapshotWriter): void {
    const minutes: [number, number][] = [];
    const ids: string[] = [];
    for (const [minute, set] of this.byMinute) {
      minutes.push([minute, set.size]);
      for (const id of set) ids.push(id);
    }
    w.json.dedupMinutes = minutes;
    w.strings('dedup.ids', ids);
  }

  load(r: SnapshotReader): void {
    this.byMinute.clear();
    this.count = 0;
    const ids = r.strings('dedup.ids');
    if (ids === null) {
      // A checkpoint written before `strings`: [minute, ids][] in the JSON.
      for (const [minute, list] of (r.json.dedup ?? []) as [number, string[]][]) {
        this.byMinute.set(minute, new Set(list));
        this.count += list.length;
      }
      return;
    }
    let at = 0;
    for (const [minute, n] of r.json.dedupMinutes as [number, number][]) {
      const set = new Set<string>();
      for (const end = at + n; at < end; at++) set.add(ids[at]!);
      this.byMinute.set(minute, set);
      this.count += n;
    }
  }

  /** Forgets minutes strictly before `minMs`. */
  expire(minMs: number): void {
    const limit = Math.floor(minMs / 60_000);
    for (const [minute, set] of this.byMinute) {
      if (minute < limit) {
        this.count -= set.size;
        this.byMinute.delete(minute);
      }
    }
  }
}
