// The model swap at the checkpoint boundary, through the commit protocol: a real pipeline as the slice of a real
// Committer, the I/O faked, on the manual clock. A staged version scores nothing before its boundary; the checkpoint
// names the version that scored what it covers, and the one that scores what follows.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import type { PipelineOutputs, SignalSnapshot } from '../contract/outputs.js';
import { MemoryAlertStore } from '../alerts/alertStore.js';
import { ManualClock } from '../shared/clock.js';
import { SnapshotReader } from '../shared/snapshotCodec.js';
import { Pipeline } from '../pipeline.js';
import { purchaseModelSet, type PurchaseModelSet } from '../signals/purchaseModel.js';
import { Committer, SliceLedger, type Mark, type Slice } from './commit.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const INTERVAL = 10_000;
const enc = new TextEncoder();

/** A version whose P(alive) says which one scored. */
const version = (name: string, p: number): PurchaseModelSet => purchaseModelSet({ name, pAlive: () => p, expectedPurchases: () => 0, customerValue: () => 1 });

function setup() {
  const clock = new ManualClock(NOW);
  const rows: SignalSnapshot[] = [];
  const outputs: PipelineOutputs = { event() {}, customerActivity() {}, entityActivity() {}, signals: (s) => void rows.push(s), alert() {}, rejected() {} };
  const pipeline = new Pipeline({ config: parseConfig({}), clock, outputs, model: version('v1', 0.5), trend: () => null, alertStore: new MemoryAlertStore() });
  const saved: Uint8Array[] = [];
  let seq = 0;
  const slice: Slice<Mark> = {
    partition: null,
    source: { lastHandled: null, ack: async () => undefined },
    alertStore: { persist: async () => undefined },
    partials: null,
    checkpoints: { save: async (blob) => void saved.push(blob) },
    ledger: new SliceLedger(clock.now()),
    drain: () => {
      pipeline.derive();
      pipeline.drainActivity();
      return pipeline.takeErasures();
    },
    snapshot: () => ({ seq, blob: pipeline.checkpoint(seq) }),
  };
  const committer = new Committer<Mark>({
    clock,
    slices: () => [slice],
    sink: { flush: async () => undefined, inserted: async () => undefined },
    sharedState: () => [],
    consent: { persist: async () => true, error: null },
    erasures: { erase: async () => undefined, deleteRequestMessages: async () => undefined },
    fence: () => null,
    sweeper: () => null,
    checkpointIntervalMs: INTERVAL,
    log: { warn: () => undefined },
  });
  /** A purchase handled (not derived: the round's drain derives it), as the consumer hands it over. */
  const purchase = (customerId: string) => {
    seq++;
    pipeline.handle({ subject: 'events.purchase', data: enc.encode(JSON.stringify({ id: `e${seq}`, customerId, type: 'purchase', ts: clock.now() - 1000, value: 10 })), streamSeq: seq, receivedAt: clock.now() });
  };
  const scoredBy = (customerId: string) => rows.filter((r) => r.customerId === customerId).map((r) => r.model);
  const meta = (blob: Uint8Array) => new SnapshotReader(blob).json.pipeline as { streamSeq: number; model: string; nextModel: string };
  return { clock, pipeline, committer, saved, purchase, scoredBy, meta };
}

describe('a staged model version takes over at the next checkpoint boundary', () => {
  it('is not used by a commit round without a checkpoint, and is after the checkpoint of a later round', async () => {
    const w = setup();
    w.purchase('a');
    w.pipeline.stageModel(version('v2', 0.9));
    // a commit round (no checkpoint due): its drain scores with the version in force
    await w.committer.round();
    expect(w.saved).toHaveLength(0);
    expect(w.scoredBy('a')).toEqual(['v1']);
    expect(w.pipeline.model.name).toBe('v1');
    expect(w.pipeline.pendingModel?.name).toBe('v2');
    w.purchase('b');
    w.clock.advance(INTERVAL);
    // the checkpoint round: b is scored by v1 in its drain, then v2 takes over after the snapshot
    await w.committer.round();
    expect(w.saved).toHaveLength(1);
    expect(w.scoredBy('b')).toEqual(['v1']);
    expect(w.meta(w.saved[0])).toMatchObject({ streamSeq: 2, model: 'v1', nextModel: 'v2' });
    expect(w.pipeline.model.name).toBe('v2');
    expect(w.pipeline.pendingModel).toBeNull();
    w.purchase('c');
    await w.committer.round();
    expect(w.scoredBy('c')).toEqual(['v2']);
    // the next checkpoint covers only events scored by v2, and says so
    w.clock.advance(INTERVAL);
    await w.committer.round();
    expect(w.meta(w.saved[1])).toMatchObject({ streamSeq: 3, model: 'v2', nextModel: 'v2' });
  });

  it('restores the version that scored the checkpoint and the one that scored what followed (the replay uses it)', async () => {
    const w = setup();
    w.purchase('a');
    w.pipeline.stageModel(version('v2', 0.9));
    w.clock.advance(INTERVAL);
    await w.committer.round();
    const restored = setup().pipeline;
    expect(restored.restore(w.saved[0])).toBe(1);
    expect(restored.checkpointModel).toBe('v1');
    expect(restored.replayModel).toBe('v2');
  });

  it('drops a staged version when the one in force is staged again, and a later stage replaces an earlier one', async () => {
    const w = setup();
    const v1 = w.pipeline.model;
    w.pipeline.stageModel(version('v2', 0.9));
    w.pipeline.stageModel(v1);
    expect(w.pipeline.pendingModel).toBeNull();
    w.pipeline.stageModel(version('v2', 0.9));
    w.pipeline.stageModel(version('v3', 0.7));
    w.purchase('a');
    w.clock.advance(INTERVAL);
    await w.committer.round();
    expect(w.meta(w.saved[0])).toMatchObject({ model: 'v1', nextModel: 'v3' });
    expect(w.pipeline.model.name).toBe('v3');
  });
});
