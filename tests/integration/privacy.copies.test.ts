// Erasure finds every copy on the real services (NATS, ClickHouse 18.16, Redis): dead letters whatever the shape of
// their payload (escaped key, spaces, truncation, a nested decoy), and the stream message of a duplicate delivered
// under a new sequence. Under pseudonymization no dead letter, in ClickHouse or on NATS, holds the original id.
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VigilConfig } from '../../src/config/schema.js';
import type { RunningProcessor } from '../../src/runtime/processor.js';
import { keyedHash } from '../../src/privacy/pseudonym.js';
import { eventually } from '../helpers/clickhouse.js';
import { chQuery, cleanUp, isolatedConfig, natsConnection, startTestProcessor } from '../helpers/processor.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const KEY = 'pseudonym-key-for-the-copies-test-0123456789';

function suiteConfig(over: Record<string, unknown> = {}): VigilConfig {
  const config = isolatedConfig({ processor: { checkpointIntervalMs: 300 }, ...over });
  return { ...config, processor: { ...config.processor, checkpointBucket: `cp_${config.nats.consumer}` } };
}

/** Every message still stored in the stream, as subject and payload text. */
async function streamMessages(nc: NatsConnection, stream: string): Promise<{ seq: number; text: string }[]> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream);
  const out: { seq: number; text: string }[] = [];
  if (info.state.messages === 0) return out;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m) out.push({ seq, text: dec.decode(m.data) });
  }
  return out;
}

function useProcessor(over: Record<string, unknown>) {
  const s = {} as { config: VigilConfig; nc: NatsConnection; processor: RunningProcessor };
  beforeAll(async () => {
    s.config = suiteConfig(over);
    s.nc = await natsConnection();
    s.processor = await startTestProcessor(s.config);
  });
  afterAll(async () => {
    await s.processor?.stop();
    await cleanUp(s.config, s.nc);
    const jsm = await s.nc.jetstreamManager();
    await jsm.streams.delete(`OBJ_${s.config.processor.checkpointBucket}`).catch(() => undefined);
    await s.nc.close();
  });
  return s;
}

describe('erasure finds every copy', () => {
  const s = useProcessor({});

  it('removes dead letters of every payload shape and a re-published duplicate\'s stream message, and leaves the decoy\'s owner alone', async () => {
    const { config, nc } = s;
    const subject = `${config.nats.subjectPrefix}.click`;
    const send = (text: string) => nc.publish(subject, enc.encode(text));
    const who = 'victim-7';
    const now = Date.now();
    // Rejected: ts is not a timestamp, or the payload is cut.
    send(`{"id":"r1","customer\\u0049d":"${who}","type":"click","ts":"bad"}`);
    send(`{"id":"r2","customerId" : "${who}","type":"click","ts":"bad"}`);
    send(`{"id":"r3","customerId":"${who}","type":"cli`);
    send(`{"id":"r4","props":{"customerId":"decoy-7"},"customerId":"${who}","type":"click","ts":"bad"}`);
    // Another customer's dead letter with the victim as a nested decoy: not the victim's.
    send(`{"id":"r5","customerId":"bystander-7","type":"click","ts":"bad","props":{"customerId":"${who}"}}`);
    // The same event twice: the second is a duplicate under a new stream sequence.
    const event = JSON.stringify({ id: 'd1', customerId: who, type: 'click', ts: now - 1_000 });
    send(event);
    send(event);
    send(JSON.stringify({ id: 'k1', customerId: 'bystander-7', type: 'click', ts: now - 1_000 }));
    await nc.flush();
    const db = config.clickhouse.database;
    await eventually('the dead letters and the duplicate indexed', async () =>
      (await chQuery(`SELECT 1 FROM ${db}.rejected_events FINAL`)).length === 5 && (await chQuery(`SELECT 1 FROM ${db}.unstored_events FINAL`)).length === 1, 15_000);
    const rows = await chQuery<{ customer_id: string; stream_seq: string }>(`SELECT customer_id, toString(stream_seq) AS stream_seq FROM ${db}.rejected_events FINAL ORDER BY stream_seq`);
    expect(rows.map((r) => r.customer_id)).toEqual([who, who, who, who, 'bystander-7']);
    const before = await streamMessages(nc, config.nats.stream);
    expect(before.filter((m) => m.text.includes(who))).toHaveLength(7);

    nc.publish(`${config.nats.subjectPrefix}.erase_request`, enc.encode(JSON.stringify({ id: 'erase-1', customerId: who, type: 'erase_request', ts: now })));
    await nc.flush();
    await eventually('the erasure audited', async () => (await chQuery(`SELECT 1 FROM ${db}.erasure_audit`)).length > 0, 30_000);

    const left = await chQuery<{ customer_id: string; payload: string }>(`SELECT customer_id, payload FROM ${db}.rejected_events FINAL`);
    expect(left.map((r) => r.customer_id)).toEqual(['bystander-7']);
    expect(await chQuery(`SELECT 1 FROM ${db}.unstored_events`)).toEqual([]);
    expect(await chQuery(`SELECT 1 FROM ${db}.events WHERE customer_id = '${who}'`)).toEqual([]);
    // In the stream: only the bystander's messages, one of which holds the victim as its decoy.
    const after = await streamMessages(nc, config.nats.stream);
    expect(after.map((m) => m.text)).toEqual(before.filter((m) => m.text.includes('"customerId":"bystander-7"')).map((m) => m.text));
  });
});

describe('dead letters under pseudonymization', () => {
  const s = useProcessor({ privacy: { pseudonymize: true, pseudonymKey: KEY } });

  it('hold no original id in ClickHouse or the NATS dead letter, escaped key included; a payload where it cannot be located is withheld', async () => {
    const { config, nc } = s;
    const who = 'secret-person-42';
    const h = keyedHash(KEY, who);
    const dead: string[] = [];
    const sub = nc.subscribe(config.nats.deadLetterSubject);
    void (async () => {
      for await (const m of sub) dead.push(dec.decode(m.data));
    })();
    const subject = `${config.nats.subjectPrefix}.click`;
    const payloads = [
      `{"id":"p1","customer\\u0049d":"${who}","type":"click","ts":"bad"}`, // parses: the object's customerId replaced
      `{"id":"p2","customer\\u0049d" : "${who}","type":"click","ts":`, // cut: replaced in place by the scanner
      `garbage ${who}`, // nowhere to locate it: withheld
    ];
    for (const p of payloads) nc.publish(subject, enc.encode(p));
    await nc.flush();
    const db = config.clickhouse.database;
    await eventually('the dead letters in ClickHouse and on NATS', async () => (await chQuery(`SELECT 1 FROM ${db}.rejected_events FINAL`)).length === 3 && dead.length === 3, 15_000);
    sub.unsubscribe();
    const rows = await chQuery<{ customer_id: string; payload: string; payload_bytes: number }>(`SELECT customer_id, payload, payload_bytes FROM ${db}.rejected_events FINAL ORDER BY stream_seq`);
    expect(rows.map((r) => r.customer_id)).toEqual([h, h, '']);
    expect(rows[0].payload).toBe(`{"id":"p1","customerId":"${h}","type":"click","ts":"bad"}`);
    expect(rows[1].payload).toBe(`{"id":"p2","customer\\u0049d" : "${h}","type":"click","ts":`);
    expect(rows[2].payload).toMatch(/^\[payload withheld: privacy\.pseudonymize is on and the customer id could not be located/);
    expect(rows[2].payload_bytes).toBe(enc.encode(payloads[2]).byteLength);
    const letters = dead.map((d) => JSON.parse(d) as { payloadBase64: string; payloadBytes: number });
    const published = letters.map((l) => Buffer.from(l.payloadBase64, 'base64').toString());
    expect(published.sort()).toEqual(rows.map((r) => r.payload).sort());
    for (const text of [...dead, ...published, JSON.stringify(rows)]) expect(text.includes(who)).toBe(false);
  });
});
