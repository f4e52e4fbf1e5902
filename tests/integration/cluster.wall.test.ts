// The cluster wall on a real NATS: processors with fake local state see each other's stats, at-risk customers and
// alerts, acknowledge each other's alerts, hear each other's silence changes, and forget a processor that went away.
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertView, AtRiskEntry, ExperienceCell, ProcessorStats, SnapshotFrame, WallFrame } from '../../src/contract/frames.js';
import { ClusterWall, type ClusterLocal } from '../../src/cluster/clusterWall.js';
import { silentLogger } from '../../src/shared/logger.js';
import { eventually } from '../helpers/wait.js';

const NATS_URL = process.env.VIGIL_NATS__SERVERS ?? 'nats://127.0.0.1:4222';
const INTERVAL = 200;

function alertView(id: string, over: Partial<AlertView> = {}): AlertView {
  const now = Date.now();
  return {
    id,
    fingerprint: `fp-${id}`,
    rule: 'churn_risk',
    severity: 'warning',
    state: 'firing',
    subject: { kind: 'customer', key: `cust-${id}` },
    value: 0.9,
    threshold: 0.8,
    reasons: ['quiet for 30 days'],
    labels: {},
    summary: 'churn risk',
    startsAt: now,
    updatedAt: now,
    endsAt: null,
    acknowledged: null,
    trigger: null,
    ...over,
  };
}

/** A processor's own state as its pipelines would show it; alert changes go out as NatsOutputs sends them. */
class FakeLocal implements ClusterLocal {
  alerts: AlertView[] = [];
  experience: ExperienceCell[] = [];
  readonly acks: [string, string][] = [];
  private readonly startedAt = Date.now();

  constructor(
    private readonly nc: NatsConnection,
    private readonly alertPrefix: string,
    private readonly eventsPerSec: number,
    private readonly atRisk: AtRiskEntry[],
  ) {}

  stats(): ProcessorStats {
    const now = Date.now();
    return { ts: now, eventsPerSec: this.eventsPerSec, eventsTotal: this.eventsPerSec * 10, rejectedTotal: 1, lateTotal: 0, lagMs: this.eventsPerSec, pending: 2, activeCustomers: this.atRisk.length, clickhouseBufferedRows: 0, uptimeS: Math.round((now - this.startedAt) / 1000) };
  }

  snapshot(): SnapshotFrame {
    const stats = this.stats();
    return { type: 'snapshot', serverTime: stats.ts, stats, statsHistory: [stats], atRisk: this.atRisk, overload: [], experience: this.experience, alerts: [...this.alerts], silences: [] };
  }

  async acknowledge(alertId: string, by: string): Promise<boolean> {
    const i = this.alerts.findIndex((a) => a.id === alertId);
    if (i === -1) return false;
    this.acks.push([alertId, by]);
    this.change({ ...this.alerts[i], acknowledged: { by, at: Date.now() }, updatedAt: Date.now() + 1 });
    return true;
  }

  /** An alert state change: recorded, then published on `<alertPrefix>.<severity>` as the processor does. */
  change(view: AlertView): void {
    this.alerts = [...this.alerts.filter((a) => a.id !== view.id), view];
    this.nc.publish(`${this.alertPrefix}.${view.severity}`, JSON.stringify(view));
  }
}

const risk = (customerId: string, valueAtRisk: number): AtRiskEntry => ({ customerId, risk: 0.9, pAlive: 0.1, valueAtRisk, reasons: [], updatedAt: Date.now() });

describe('cluster wall', () => {
  const tag = randomBytes(4).toString('hex');
  const subjectPrefix = `t${tag}.cluster`;
  const alertPrefix = `t${tag}.alerts`;
  const conns: NatsConnection[] = [];
  const walls: ClusterWall[] = [];
  const frames = new Map<string, WallFrame[]>();
  const silenceCalls = new Map<string, number>();

  async function processor(name: string, eventsPerSec: number, atRisk: AtRiskEntry[]): Promise<{ wall: ClusterWall; local: FakeLocal; nc: NatsConnection }> {
    const nc = await connect({ servers: NATS_URL, name: `vigil-test-wall-${name}` });
    conns.push(nc);
    const local = new FakeLocal(nc, alertPrefix, eventsPerSec, atRisk);
    const wall = new ClusterWall({ nc, processorId: `${name}.host-${tag}`, subjectPrefix, alertSubjectPrefix: alertPrefix, intervalMs: INTERVAL, atRiskLimit: 10, local, log: silentLogger });
    walls.push(wall);
    frames.set(name, []);
    silenceCalls.set(name, 0);
    wall.subscribe((f) => frames.get(name)!.push(f));
    wall.onSilencesChanged(() => silenceCalls.set(name, silenceCalls.get(name)! + 1));
    await wall.start();
    return { wall, local, nc };
  }
  const alertFrames = (name: string, id: string) => frames.get(name)!.filter((f) => f.type === 'alert' && f.alert.id === id);

  let a: Awaited<ReturnType<typeof processor>>;
  let b: Awaited<ReturnType<typeof processor>>;

  beforeAll(async () => {
    a = await processor('a', 100, [risk('alice', 500), risk('bob', 50)]);
    b = await processor('b', 50, [risk('carol', 300)]);
  });
  afterAll(async () => {
    for (const w of walls) await w.stop();
    for (const nc of conns) if (!nc.isClosed()) await nc.close();
  });

  it("shows both processors' stats summed and their at-risk customers merged, on either wall", async () => {
    for (const w of [a.wall, b.wall]) {
      await eventually('both processors in the merged stats', () => w.snapshot().stats.eventsPerSec === 150);
      const snap = w.snapshot();
      expect(snap.stats).toMatchObject({ eventsTotal: 1500, rejectedTotal: 2, pending: 4, lagMs: 100, activeCustomers: 3 });
      expect(snap.atRisk.map((e) => e.customerId)).toEqual(['alice', 'carol', 'bob']);
    }
    // The stats frames every interval carry the merged view too.
    await eventually('a merged stats frame', () => frames.get('b')!.some((f) => f.type === 'stats' && f.stats.eventsPerSec === 150));
    expect(a.wall.peers().map((p) => p.processorId)).toEqual([`b.host-${tag}`]);
  });

  it("merges the processors' experience cells of one product by volume into every wall's experience frames", async () => {
    a.local.experience = [{ kind: 'product', key: 'kettle', index: 40, trend: -20, volume: 30, reason: '9 defects' }];
    b.local.experience = [{ kind: 'product', key: 'kettle', index: 80, trend: 0, volume: 10, reason: null }];
    const merged = { kind: 'product', key: 'kettle', index: 50, trend: -15, volume: 40, reason: '9 defects' };
    for (const name of ['a', 'b']) {
      await eventually(`${name}'s merged experience frame`, () => frames.get(name)!.some((f) => f.type === 'experience' && JSON.stringify(f.experience) === JSON.stringify([merged])));
    }
    expect(b.wall.snapshot().experience).toEqual([merged]);
    a.local.experience = [];
    b.local.experience = [];
  });

  it("puts one processor's alert on the other's wall as an alert frame, and on its own wall once", async () => {
    const view = alertView(`a-${tag}-1`);
    a.local.change(view);
    await eventually("the alert on b's wall", () => alertFrames('b', view.id).length === 1);
    expect(alertFrames('b', view.id)[0]).toEqual({ type: 'alert', alert: view });
    expect(b.wall.snapshot().alerts.map((x) => x.id)).toContain(view.id);
    // a hears of it twice (its own snapshot, the NATS echo) and shows it once; a few intervals on, still once.
    await eventually("the alert on a's wall", () => alertFrames('a', view.id).length === 1);
    const after = frames.get('a')!.length;
    await eventually('a few more intervals', () => frames.get('a')!.length > after + 9);
    expect(alertFrames('a', view.id)).toHaveLength(1);
    expect(alertFrames('b', view.id)).toHaveLength(1);
  });

  it('shows an alert resolved just now, and not one resolved long ago', async () => {
    const longAgo = Date.now() - 6 * 60_000;
    const old = alertView(`a-${tag}-old`, { state: 'resolved', startsAt: longAgo - 60_000, updatedAt: longAgo, endsAt: longAgo });
    const fresh = alertView(`a-${tag}-fresh`, { state: 'resolved', endsAt: Date.now() });
    a.nc.publish(`${alertPrefix}.warning`, JSON.stringify(old));
    a.nc.publish(`${alertPrefix}.warning`, JSON.stringify(fresh));
    // Published in this order on one connection, so b has read the old one by the time the fresh one shows.
    await eventually("the fresh resolution on b's wall", () => alertFrames('b', fresh.id).length === 1);
    expect(alertFrames('b', old.id)).toEqual([]);
    expect(b.wall.snapshot().alerts.map((x) => x.id)).toContain(fresh.id);
    expect(b.wall.snapshot().alerts.map((x) => x.id)).not.toContain(old.id);
  });

  it("acknowledges b's alert from a's wall: b's local state takes it, and both walls show it acknowledged", async () => {
    const view = alertView(`b-${tag}-1`, { severity: 'critical' });
    b.local.change(view);
    await eventually("b's alert on a's wall", () => a.wall.snapshot().alerts.some((x) => x.id === view.id));
    expect(await a.wall.acknowledge(view.id, 'ann')).toBe(true);
    expect(b.local.acks).toEqual([[view.id, 'ann']]);
    for (const w of [a.wall, b.wall]) await eventually('the acknowledgement on the wall', () => w.snapshot().alerts.find((x) => x.id === view.id)?.acknowledged?.by === 'ann');
  });

  it('answers false for an alert no processor holds', async () => {
    expect(await a.wall.acknowledge(`nobody-${tag}`, 'ann')).toBe(false);
    expect(b.local.acks.filter(([id]) => id === `nobody-${tag}`)).toEqual([]);
  });

  it('tells the other processors, not itself, that silences changed', async () => {
    a.wall.silencesChanged();
    await eventually('b reloads its silences', () => silenceCalls.get('b') === 1);
    await a.nc.flush(); // anything the server had for a itself has arrived by now
    expect(silenceCalls.get('a')).toBe(0);
  });

  it("gives a wall started later the alerts already firing, and drops an alert its processor no longer shows", async () => {
    const c = await processor('c', 10, []);
    const aAlert = alertView(`a-${tag}-1`);
    await eventually("a's earlier alert on the new wall", () => c.wall.snapshot().alerts.some((x) => x.id === aAlert.id));
    expect(alertFrames('c', aAlert.id)).toHaveLength(1);
    await eventually('three processors in the stats', () => c.wall.snapshot().stats.eventsPerSec === 160 && a.wall.snapshot().stats.eventsPerSec === 160);

    // An erasure: the alert leaves a's state without a change published.
    a.local.alerts = a.local.alerts.filter((x) => x.id !== aAlert.id);
    for (const w of [a.wall, b.wall, c.wall]) await eventually('the alert gone from every wall', () => !w.snapshot().alerts.some((x) => x.id === aAlert.id));

    // A clean stop: the others drop it at once.
    await c.wall.stop();
    await eventually('c gone from the stats', () => a.wall.snapshot().stats.eventsPerSec === 150 && b.wall.snapshot().stats.eventsPerSec === 150);
  });

  it('drops a processor that stops publishing from the merged stats', async () => {
    await b.nc.close(); // a crash, as far as a can tell: b's summaries just stop
    await eventually("b gone from a's stats", () => a.wall.snapshot().stats.eventsPerSec === 100);
    expect(a.wall.snapshot().atRisk.map((e) => e.customerId)).toEqual(['alice', 'bob']);
    expect(a.wall.peers()).toEqual([]);
  });
});
