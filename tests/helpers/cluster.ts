// What the cluster tests share: a deterministic event mix on partitioned subjects with its ground truth, deadline
// waits, the lease bucket's owners, ClickHouse's per-customer counts, and a wall's snapshot.
import type { KV, NatsConnection } from 'nats';
import { customerToken } from '../../src/cluster/partitioning.js';
import type { VigilConfig } from '../../src/config/schema.js';
import type { SnapshotFrame } from '../../src/contract/frames.js';
import { chQuery } from './processor.js';

const enc = new TextEncoder();

export interface Published {
  subject: string;
  data: Uint8Array;
  customerId: string;
  type: string;
  value: number;
}

export type Truth = Map<string, { n: number; revenue: number }>;

/** Customer c's id: some subject-safe, some (every fifth) travelling as a hashed token. */
export function customerIdOf(c: number): string {
  return c % 5 === 0 ? `cust.${c}@example.com` : `c-${c}`;
}

/** A deterministic mix: sessions, page views, purchases, campaign emails and their opens, some complaints, repeats. */
export function makeEvents(from: number, count: number, baseTs: number, customers: number): Published[] {
  const out: Published[] = [];
  for (let i = from; i < from + count; i++) {
    const c = (i * 7919) % customers;
    const customerId = customerIdOf(c);
    const r = (i * 31) % 20;
    const type = r < 6 ? 'page_view' : r < 8 ? 'session_start' : r < 10 ? 'purchase' : r < 15 ? 'email_sent' : r < 18 ? 'email_open' : r < 19 ? 'complaint' : 'unsubscribe';
    const value = type === 'purchase' ? 10 + (i % 90) : 0;
    const ev = {
      id: `e-${i}`,
      customerId,
      type,
      // Event time moves forward a second per event, a few seconds out of order: never late.
      ts: baseTs + i * 1_000 - (i % 4) * 1_500,
      channel: type.startsWith('email') || type === 'complaint' || type === 'unsubscribe' ? 'email' : 'web',
      campaignId: type === 'email_sent' || type === 'email_open' || type === 'complaint' ? `camp-${i % 3}` : undefined,
      segment: c % 2 === 0 ? 'vip' : 'regular',
      ...(value ? { value } : {}),
    };
    out.push({ subject: `events.${type}.${customerToken(customerId)}`, data: enc.encode(JSON.stringify(ev)), customerId, type, value });
  }
  return out;
}

/** Publishes through JetStream (each stored before the next), every tenth event twice as a redelivering producer would. */
export async function publish(nc: NatsConnection, events: Published[], truth: Truth): Promise<void> {
  const js = nc.jetstream();
  for (const [i, e] of events.entries()) {
    await js.publish(e.subject, e.data);
    if (i % 10 === 0) await js.publish(e.subject, e.data);
    const key = `${e.customerId}|${e.type}`;
    const t = truth.get(key) ?? { n: 0, revenue: 0 };
    t.n++;
    t.revenue += e.value;
    truth.set(key, t);
  }
}

/**
 * The processors' lease bucket, once they have created it: bound to, never created here. A processor's /readyz
 * answers before its leases open the bucket; a test that opened it with nats.js's defaults meanwhile raced the
 * processor's own creation (with the lease as its max age), and the processor that lost that race failed to start.
 */
export async function leaseBucket(nc: NatsConnection, bucket: string): Promise<KV> {
  const jsm = await nc.jetstreamManager();
  await until(`the lease bucket ${bucket}`, () => jsm.streams.info(`KV_${bucket}`).then(() => true, () => false), (exists) => exists);
  return nc.jetstream().views.kv(bucket, { bindOnly: true });
}

/** Reads until `ok` holds, or throws with the last reading after the deadline. */
export async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 250));
    last = await read();
  }
  return last;
}

/** Who holds each partition, read from the lease bucket. */
export async function owners(kv: KV, partitions: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (let p = 0; p < partitions; p++) {
    const e = await kv.get(`partition.${p}`);
    if (e && e.operation === 'PUT' && e.length > 0) out.set(p, (e.json() as { owner: string }).owner);
  }
  return out;
}

/** The live members of the lease bucket (`member.<processorId>` keys). */
export async function members(kv: KV): Promise<string[]> {
  const out: string[] = [];
  for await (const key of await kv.keys('member.>')) out.push(key.slice('member.'.length));
  return out.sort();
}

export function countBy(m: Map<number, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of m.values()) out[o] = (out[o] ?? 0) + 1;
  return out;
}

export async function activityInClickHouse(config: VigilConfig): Promise<Truth> {
  const rows = await chQuery<{ customer_id: string; event_type: string; n: string; revenue: number }>(
    `SELECT customer_id, event_type, sum(events) AS n, sum(revenue) AS revenue FROM ${config.clickhouse.database}.customer_activity FINAL GROUP BY customer_id, event_type`,
  );
  return new Map(rows.map((r) => [`${r.customer_id}|${r.event_type}`, { n: Number(r.n), revenue: Math.round(r.revenue * 100) / 100 }]));
}

export function sameActivity(a: Truth, b: Truth): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.n !== v.n || Math.abs(w.revenue - v.revenue) > 1e-6) return false;
  }
  return true;
}

export async function wallSnapshot(port: number): Promise<SnapshotFrame> {
  return (await (await fetch(`http://127.0.0.1:${port}/api/v1/snapshot`)).json()) as SnapshotFrame;
}
