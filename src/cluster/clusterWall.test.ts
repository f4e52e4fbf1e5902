// The cluster wall's tick on the manual clock: a summary each interval carrying the partitions this processor holds,
// stats frames to its clients, and nothing more once stopped. NATS is a fake that records what is published.
import type { NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import type { SnapshotFrame, WallFrame } from '../contract/frames.js';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/logger.js';
import { emptySnapshot } from '../wall/snapshotMerge.js';
import { ClusterWall, type ClusterSummary } from './clusterWall.js';

function fakeNats() {
  const published: { subject: string; body: unknown }[] = [];
  const dec = new TextDecoder();
  const nc = {
    info: { max_payload: 1024 * 1024 },
    isClosed: () => false,
    flush: async () => undefined,
    subscribe: () => ({ unsubscribe: () => undefined }),
    publish: (subject: string, data: Uint8Array) => void published.push({ subject, body: JSON.parse(dec.decode(data)) }),
  };
  return { nc: nc as unknown as NatsConnection, published };
}

describe('ClusterWall on the manual clock', () => {
  it('publishes a summary with the held partitions every interval, and stops ticking when stopped', async () => {
    const clock = new ManualClock(1_000_000);
    const { nc, published } = fakeNats();
    let held = [0, 3];
    const local = { snapshot: (): SnapshotFrame => emptySnapshot(clock.now()), acknowledge: async () => false };
    const wall = new ClusterWall({ nc, processorId: 'a.host', local, atRiskLimit: 10, log: silentLogger, intervalMs: 500, clock, partitions: () => held });
    const frames: WallFrame[] = [];
    wall.subscribe((f) => frames.push(f));
    await wall.start();
    const summaries = () => published.filter((p) => p.subject === 'vigil.cluster.summary.a_host').map((p) => p.body as ClusterSummary);
    expect(summaries().map((s) => [s.sentAt, s.partitions])).toEqual([[1_000_000, [0, 3]]]);

    held = [3];
    clock.advance(499);
    expect(summaries()).toHaveLength(1);
    clock.advance(1);
    expect(summaries().map((s) => [s.sentAt, s.partitions])).toEqual([
      [1_000_000, [0, 3]],
      [1_000_500, [3]],
    ]);
    expect(frames.filter((f) => f.type === 'stats')).toHaveLength(2);

    await wall.stop();
    expect(summaries().at(-1)).toMatchObject({ leaving: true });
    const count = published.length;
    clock.advance(5_000);
    expect(published).toHaveLength(count);
    expect(clock.pending()).toBe(0);
  });
});
