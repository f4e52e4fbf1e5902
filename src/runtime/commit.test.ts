// The durability protocol as a specification: fakes record every step in order and can fail or hold any of them.
import { describe, expect, it } from 'vitest';
import type { ErasureRequest } from '../contract/outputs.js';
import { ManualClock } from '../shared/clock.js';
import { Committer, SliceLedger, type Mark, type Slice } from './commit.js';

const INTERVAL = 30_000;

/** Every fake's calls in one log; a step named in `failing` rejects (or throws), one in `held` waits for release. */
class World {
  readonly calls: string[] = [];
  readonly failing = new Set<string>();
  readonly held = new Map<string, { wait: Promise<void>; release: () => void }>();
  readonly warnings: string[] = [];
  readonly owned = new Set<number>();
  consentOk = true;

  sync(name: string): void {
    this.calls.push(name);
    if (this.failing.has(name)) throw new Error(`${name} failed`);
  }

  async step(name: string): Promise<void> {
    this.calls.push(name);
    await this.held.get(name)?.wait;
    if (this.failing.has(name)) throw new Error(`${name} failed`);
  }

  hold(name: string): () => void {
    let release = (): void => undefined;
    const wait = new Promise<void>((r) => (release = r));
    this.held.set(name, { wait, release });
    return release;
  }
}

function erasure(customerId: string, streamSeq: number): ErasureRequest {
  return { customerId, requestId: `r-${customerId}`, requestedAt: 0, requestedBy: '', via: 'event', streamSeq, liveState: true, redisEntries: 0 };
}

class FakeSlice implements Slice<Mark> {
  readonly ledger: SliceLedger;
  /** The highest sequence the live state holds: what a snapshot covers. */
  covered = 0;
  queued: ErasureRequest[] = [];
  readonly saved: number[] = [];
  readonly acked: number[] = [];
  readonly source = { lastHandled: null as Mark | null, ack: async (m: Mark | null): Promise<void> => this.ack(m) };
  readonly alertStore = { persist: () => this.w.step(`persist:${this.name}`) };
  readonly partials: { flush(): Promise<void> } | null;
  /** Blobs snapshot() handed out and not yet released (a reused buffer must not be written over while stored). */
  blobsOut = 0;
  readonly checkpoints = {
    save: async (blob: Uint8Array): Promise<void> => {
      expect(this.blobsOut).toBe(1);
      await this.w.step(`save:${this.name}:${blob[0]}`);
      expect(this.blobsOut).toBe(1);
      this.saved.push(blob[0]);
    },
  };

  constructor(
    private readonly w: World,
    readonly partition: number | null,
    clock: ManualClock,
  ) {
    this.ledger = new SliceLedger(clock.now());
    this.partials = partition === null ? null : { flush: () => w.step(`partials:${this.name}`) };
  }

  get name(): string {
    return this.partition === null ? 'single' : `p${this.partition}`;
  }

  /** The consumer hands messages up to `seq` to the pipeline. */
  handle(seq: number, ...erasures: ErasureRequest[]): this {
    this.source.lastHandled = { seq };
    this.covered = seq;
    this.queued.push(...erasures);
    return this;
  }

  drain(): ErasureRequest[] {
    this.w.sync(`drain:${this.name}`);
    return this.queued.splice(0);
  }

  snapshot(): { seq: number; blob: Uint8Array; release: () => void } {
    this.w.sync(`snapshot:${this.name}`);
    this.blobsOut++;
    let released = false;
    return {
      seq: this.covered,
      blob: Uint8Array.of(this.covered),
      release: () => {
        expect(released).toBe(false);
        released = true;
        this.blobsOut--;
      },
    };
  }

  /** Like JetStreamSource.ack: never throws, never moves back. */
  private async ack(m: Mark | null): Promise<void> {
    if (!m) return;
    this.w.calls.push(`ack:${this.name}:${m.seq}`);
    if (m.seq > (this.acked.at(-1) ?? 0)) this.acked.push(m.seq);
  }
}

function setup(opts: { partitions?: number[]; leader?: boolean; sweeper?: boolean } = {}) {
  const w = new World();
  const clock = new ManualClock(0);
  const clustered = opts.partitions !== undefined;
  const slices = clustered ? opts.partitions!.map((p) => new FakeSlice(w, p, clock)) : [new FakeSlice(w, null, clock)];
  for (const s of slices) if (s.partition !== null) w.owned.add(s.partition);
  const erased: string[] = [];
  const deleted: number[][] = [];
  const committer = new Committer<Mark>({
    clock,
    slices: () => slices,
    sink: { flush: () => w.step('flush'), inserted: () => w.step('inserted') },
    sharedState: () => [{ persist: () => w.step('persist:notifier') }, opts.leader ? { persist: () => w.step('persist:leader') } : undefined],
    consent: {
      persist: async () => {
        await w.step('consent');
        return w.consentOk;
      },
      get error() {
        return w.consentOk ? null : 'Redis write failed, 1 consent changes waiting';
      },
    },
    erasures: {
      erase: async (req) => {
        await w.step(`erase:${req.customerId}`);
        erased.push(req.customerId);
      },
      deleteRequestMessages: async (seqs) => {
        await w.step(`delete:${seqs.join(',')}`);
        deleted.push(seqs);
      },
    },
    fence: () =>
      clustered
        ? {
            stillOwns: async (p) => {
              await w.step(`fence:p${p}`);
              return w.owned.has(p);
            },
          }
        : null,
    sweeper: () => (opts.sweeper ? { commit: async (flush) => (w.calls.push('sweep'), void (await flush())) } : null),
    checkpointIntervalMs: INTERVAL,
    log: { warn: (_fields, message) => w.warnings.push(message) },
  });
  return { w, clock, slices, committer, erased, deleted };
}

describe('commit', () => {
  it('drains, then flushes and persists together, then partials, then consent, then acks each slice', async () => {
    const { w, slices, committer } = setup({ partitions: [0, 1], leader: true });
    slices[0].handle(5);
    slices[1].handle(7);
    await committer.commit();
    expect(w.calls).toEqual(['drain:p0', 'drain:p1', 'flush', 'persist:notifier', 'persist:leader', 'persist:p0', 'persist:p1', 'partials:p0', 'partials:p1', 'consent', 'ack:p0:5', 'ack:p1:7']);
    expect(slices.map((s) => s.saved)).toEqual([[], []]);
  });

  it('acks the mark read before the drain, not a message handled while the flush is out', async () => {
    const { w, slices, committer } = setup();
    const release = w.hold('flush');
    slices[0].handle(5);
    const done = committer.commit();
    slices[0].handle(9);
    release();
    await done;
    expect(slices[0].acked).toEqual([5]);
  });

  it('starts nothing after the flush until the flush is done', async () => {
    const { w, slices, committer } = setup({ partitions: [0] });
    const release = w.hold('flush');
    slices[0].handle(5);
    const done = committer.commit();
    await new Promise((r) => setImmediate(r));
    expect(w.calls).toEqual(['drain:p0', 'flush', 'persist:notifier', 'persist:p0']);
    release();
    await done;
    expect(w.calls.slice(4)).toEqual(['partials:p0', 'consent', 'ack:p0:5']);
  });

  for (const step of ['flush', 'persist:notifier', 'persist:leader', 'persist:p1', 'partials:p0', 'consent']) {
    it(`acks nothing when ${step} fails`, async () => {
      const { w, slices, committer } = setup({ partitions: [0, 1], leader: true });
      slices[0].handle(5);
      slices[1].handle(7);
      w.failing.add(step);
      await expect(committer.commit()).rejects.toThrow(`${step} failed`);
      expect(slices.map((s) => s.acked)).toEqual([[], []]);
      // The next commit, with the step back, acks what the failed one could not.
      w.failing.clear();
      await committer.commit();
      expect(slices.map((s) => s.acked)).toEqual([[5], [7]]);
    });
  }

  it('acks nothing while consent changes are not in Redis, and says why', async () => {
    const { w, slices, committer } = setup();
    slices[0].handle(5);
    w.consentOk = false;
    await expect(committer.commit()).rejects.toMatchObject({ code: 'REDIS_UNAVAILABLE', message: expect.stringContaining('consent changes waiting') });
    expect(slices[0].acked).toEqual([]);
  });

  it('holds back the ack of a slice with an erasure pending, and only that slice', async () => {
    const { slices, committer, erased } = setup({ partitions: [0, 1] });
    slices[0].handle(5, erasure('c1', 4));
    slices[1].handle(7);
    await committer.commit();
    slices[0].handle(6);
    await committer.commit();
    expect(slices.map((s) => s.acked)).toEqual([[], [7]]);
    expect(erased).toEqual([]);
    expect(slices[0].ledger.pendingErasures.map((e) => e.customerId)).toEqual(['c1']);
  });
});

describe('checkpoint', () => {
  it('captures, commits every slice, erases, checks the lease, saves, acks, then deletes the erase_request', async () => {
    const { w, slices, committer, erased, deleted } = setup({ partitions: [0, 1], leader: true });
    slices[0].handle(5, erasure('c1', 3));
    slices[1].handle(7);
    await committer.checkpoint(slices[0]);
    expect(w.calls).toEqual([
      ...['drain:p0', 'snapshot:p0'],
      ...['drain:p0', 'drain:p1', 'flush', 'persist:notifier', 'persist:leader', 'persist:p0', 'persist:p1', 'partials:p0', 'partials:p1', 'consent', 'ack:p1:7'],
      ...['inserted', 'erase:c1', 'fence:p0', 'save:p0:5', 'ack:p0:5', 'delete:3'],
    ]);
    expect(erased).toEqual(['c1']);
    expect(deleted).toEqual([[3]]);
    expect(slices[0].ledger.lastCheckpoint).toEqual({ seq: 5, bytes: 1, at: 0 });
    expect(slices[0].blobsOut).toBe(0);
  });

  it('without an erasure pending, waits for no spilled rows and deletes nothing', async () => {
    const { w, slices, committer } = setup();
    slices[0].handle(5);
    await committer.checkpoint(slices[0]);
    expect(w.calls).toEqual(['drain:single', 'snapshot:single', 'drain:single', 'flush', 'persist:notifier', 'persist:single', 'consent', 'ack:single:5', 'save:single:5', 'ack:single:5']);
    expect(slices[0].saved).toEqual([5]);
  });

  it("runs the slice's preparation first, and the checkpoint covers and acks what was handled while it ran", async () => {
    const { w, slices, committer } = setup();
    const slice = slices[0];
    (slice as Slice<Mark>).prepare = () => w.step('prepare:single');
    const release = w.hold('prepare:single');
    slice.handle(5);
    const done = committer.checkpoint(slice);
    await new Promise((r) => setImmediate(r));
    // Nothing synchronous has run yet: events go on while the preparation is out.
    expect(w.calls).toEqual(['prepare:single']);
    slice.handle(9);
    release();
    await done;
    expect(w.calls.slice(0, 3)).toEqual(['prepare:single', 'drain:single', 'snapshot:single']);
    expect(slice.saved).toEqual([9]);
    expect(slice.acked).toEqual([9]);
  });

  it('checks no lease for a single processor', async () => {
    const { w, slices, committer } = setup();
    slices[0].handle(5);
    await committer.checkpoint(slices[0]);
    expect(w.calls.some((c) => c.startsWith('fence'))).toBe(false);
  });

  it('holds the ack back until the checkpoint that carries the erasure out', async () => {
    const { slices, committer, erased } = setup({ partitions: [0] });
    slices[0].handle(5, erasure('c1', 4));
    await committer.commit();
    expect(slices[0].acked).toEqual([]);
    slices[0].handle(8);
    await committer.checkpoint(slices[0]);
    expect(erased).toEqual(['c1']);
    expect(slices[0].saved).toEqual([8]);
    expect(slices[0].acked).toEqual([8]);
  });

  it('an erasure that fails stays first in the queue, acks nothing for its slice, and is resumed (same request) next time', async () => {
    const { w, slices, committer, erased, deleted } = setup({ partitions: [0] });
    const first = erasure('c1', 3);
    slices[0].handle(5, first, erasure('c2', 4));
    w.failing.add('erase:c1');
    await expect(committer.checkpoint(slices[0])).rejects.toThrow('erase:c1 failed');
    expect(slices[0].ledger.pendingErasures[0]).toBe(first);
    expect(slices[0].ledger.pendingErasures).toHaveLength(2);
    expect(slices[0].saved).toEqual([]);
    expect(slices[0].acked).toEqual([]);
    w.failing.clear();
    await committer.checkpoint(slices[0]);
    expect(erased).toEqual(['c1', 'c2']);
    expect(deleted).toEqual([[3, 4]]);
    expect(slices[0].acked).toEqual([5]);
  });

  it('a lease lost while the commit flushes: nothing saved, no request deleted, no ack for a slice with an erasure pending', async () => {
    const { w, slices, committer, deleted } = setup({ partitions: [0, 1] });
    slices[0].handle(5, erasure('c1', 3));
    slices[1].handle(7);
    const release = w.hold('flush');
    const done = committer.checkpoint(slices[0]);
    w.owned.delete(0);
    release();
    await done; // not an error: the partition is being revoked and its successor replays from the previous checkpoint
    expect(slices[0].saved).toEqual([]);
    expect(slices[0].acked).toEqual([]);
    expect(deleted).toEqual([]);
    expect(slices[0].ledger.requestMessages).toEqual([3]);
    expect(slices[0].ledger.lastCheckpointAt).toBe(0);
    expect(slices[0].blobsOut).toBe(0);
    expect(slices[1].acked).toEqual([7]);
    expect(w.warnings).toEqual(['lease lost before the checkpoint: not saved (the new owner replays from the previous one)']);
  });

  it('a lease lost mid-checkpoint saves nothing and acks nothing past the commit (the ack is flow control, not the restart point)', async () => {
    const { w, slices, committer } = setup({ partitions: [0] });
    slices[0].handle(5);
    await committer.checkpoint(slices[0]);
    slices[0].handle(9);
    w.calls.length = 0;
    w.owned.delete(0);
    await committer.checkpoint(slices[0]);
    expect(slices[0].saved).toEqual([5]);
    expect(slices[0].ledger.lastCheckpoint.seq).toBe(5);
    // The commit's ack of what is flushed comes before the fence, as the processor has always done it.
    expect(w.calls.slice(-2)).toEqual(['ack:p0:9', 'fence:p0']);
  });

  it('does not ack a mark the checkpoint does not cover', async () => {
    const { w, slices, committer } = setup({ partitions: [0] });
    slices[0].handle(5, erasure('c1', 0));
    slices[0].covered = 4;
    await committer.checkpoint(slices[0]);
    expect(slices[0].saved).toEqual([4]);
    expect(slices[0].acked).toEqual([]);
    expect(w.calls.filter((c) => c.startsWith('delete'))).toEqual([]);
  });

  it('a failed delete of erase_request messages keeps them for the next checkpoint and fails nothing', async () => {
    const { w, slices, committer, deleted } = setup({ partitions: [0] });
    slices[0].handle(5, erasure('c1', 3));
    w.failing.add('delete:3');
    await committer.checkpoint(slices[0]);
    expect(slices[0].saved).toEqual([5]);
    expect(slices[0].acked).toEqual([5]);
    expect(slices[0].ledger.requestMessages).toEqual([3]);
    expect(w.warnings).toEqual(['deleting erase_request messages from the stream failed; retrying at the next checkpoint']);
    w.failing.clear();
    slices[0].handle(6, erasure('c2', 6));
    await committer.checkpoint(slices[0]);
    expect(deleted).toEqual([[3, 6]]);
  });

  // A crash between any two steps: the step throws, nothing after it runs.
  const steps = ['drain:p0', 'snapshot:p0', 'flush', 'persist:notifier', 'persist:leader', 'persist:p0', 'persist:p1', 'partials:p0', 'partials:p1', 'consent', 'inserted', 'erase:c1', 'fence:p0', 'save:p0:9'];
  for (const [i, step] of steps.entries()) {
    it(`a crash at ${step} leaves the previous checkpoint and no ack past what is durable`, async () => {
      const { w, clock, slices, committer, erased, deleted } = setup({ partitions: [0, 1], leader: true });
      slices[0].handle(5);
      slices[1].handle(7);
      await committer.checkpoint(slices[0]);
      clock.advance(INTERVAL);
      slices[0].handle(9, erasure('c1', 8));
      slices[1].handle(11);
      w.failing.add(step);
      await expect(committer.checkpoint(slices[0])).rejects.toThrow(`${step} failed`);
      // The blob was released on the way out (a reused buffer is free for the next checkpoint).
      expect(slices[0].blobsOut).toBe(0);

      expect(slices[0].saved).toEqual([5]);
      expect(slices[0].ledger.lastCheckpoint).toEqual({ seq: 5, bytes: 1, at: 0 });
      expect(slices[0].ledger.lastCheckpointAt).toBe(0);
      // The slice with the erasure is acked by no commit; the others only once the commit made their effects durable.
      expect(slices[0].acked).toEqual([5]);
      expect(slices[1].acked).toEqual(i > steps.indexOf('consent') ? [7, 11] : [7]);
      const lastDurable = Math.max(...['flush', 'persist:notifier', 'persist:leader', 'persist:p0', 'persist:p1', 'partials:p0', 'partials:p1', 'consent'].map((s) => w.calls.lastIndexOf(s)));
      for (const [at, call] of w.calls.entries()) if (call === 'ack:p1:11') expect(at).toBeGreaterThan(lastDurable);
      expect(erased).toEqual(i > steps.indexOf('erase:c1') ? ['c1'] : []);
      expect(deleted).toEqual([]);

      // Recovery: the next checkpoint finishes the job, the erasure carried out exactly once.
      w.failing.clear();
      await committer.checkpoint(slices[0]);
      expect(slices[0].saved).toEqual([5, 9]);
      expect(slices[0].acked).toEqual([5, 9]);
      expect(erased).toEqual(['c1']);
      expect(deleted).toEqual([[8]]);
    });
  }
});

describe('round', () => {
  it('commits until a checkpoint is due by the clock, then checkpoints every due slice instead', async () => {
    const { w, clock, slices, committer } = setup({ partitions: [0, 1] });
    slices[0].handle(5);
    slices[1].handle(7);
    clock.advance(INTERVAL - 1);
    await committer.round();
    expect(slices.map((s) => s.saved)).toEqual([[], []]);
    expect(slices.map((s) => s.acked)).toEqual([[5], [7]]);

    clock.advance(1);
    w.calls.length = 0;
    await committer.round();
    expect(slices.map((s) => s.saved)).toEqual([[5], [7]]);
    expect(w.calls.filter((c) => c === 'flush')).toHaveLength(2); // one commit per checkpoint, none besides
    expect(slices.map((s) => s.ledger.lastCheckpointAt)).toEqual([INTERVAL, INTERVAL]);

    clock.advance(INTERVAL - 1);
    await committer.round();
    expect(slices.map((s) => s.saved)).toEqual([[5], [7]]);
  });

  it('a failed checkpoint leaves its slice (and those after it) due at the next round', async () => {
    const { w, clock, slices, committer } = setup({ partitions: [0, 1] });
    slices[0].handle(5);
    slices[1].handle(7);
    clock.advance(INTERVAL);
    w.failing.add('save:p0:5');
    await expect(committer.round()).rejects.toThrow('save:p0:5 failed');
    expect(slices.map((s) => s.saved)).toEqual([[], []]);
    w.failing.clear();
    clock.advance(1_000);
    await committer.round();
    expect(slices.map((s) => s.saved)).toEqual([[5], [7]]);
    expect(slices.map((s) => s.ledger.lastCheckpointAt)).toEqual([INTERVAL + 1_000, INTERVAL + 1_000]);
  });

  it("ends with the leader's sweep, which acks after its own flush", async () => {
    const { w, slices, committer } = setup({ sweeper: true });
    slices[0].handle(5);
    await committer.round();
    expect(w.calls).toEqual(['drain:single', 'flush', 'persist:notifier', 'persist:single', 'consent', 'ack:single:5', 'sweep', 'flush']);
  });

  it("lets each slice catch up before a commit's drain, covering what was handled meanwhile; a null catch-up takes no turn", async () => {
    const { w, slices, committer } = setup({ partitions: [0, 1] });
    const release = w.hold('catchUp:p0');
    (slices[0] as Slice<Mark>).catchUp = () => w.step('catchUp:p0');
    (slices[1] as Slice<Mark>).catchUp = () => {
      w.calls.push('catchUp:p1');
      return null;
    };
    slices[0].handle(5);
    slices[1].handle(7);
    const done = committer.round();
    await new Promise((r) => setImmediate(r));
    // Nothing is drained while a catch-up is out: events go on meanwhile.
    expect(w.calls).toEqual(['catchUp:p0', 'catchUp:p1']);
    slices[0].handle(9);
    release();
    await done;
    expect(w.calls.slice(2, 4)).toEqual(['drain:p0', 'drain:p1']);
    expect(slices.map((s) => s.acked)).toEqual([[9], [7]]);
  });

  it("does not catch up inside a checkpoint's commit: it drains right after the snapshot", async () => {
    const { w, clock, slices, committer } = setup();
    (slices[0] as Slice<Mark>).catchUp = () => w.step('catchUp:single');
    slices[0].handle(5);
    clock.advance(INTERVAL);
    await committer.round();
    expect(w.calls).not.toContain('catchUp:single');
    expect(w.calls.slice(0, 3)).toEqual(['drain:single', 'snapshot:single', 'drain:single']);
  });

  it('a failed commit skips the sweep', async () => {
    const { w, committer } = setup({ sweeper: true });
    w.failing.add('flush');
    await expect(committer.round()).rejects.toThrow('flush failed');
    expect(w.calls).not.toContain('sweep');
  });
});
