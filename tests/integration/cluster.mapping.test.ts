// The partition of a customer is computed by the NATS server's subject mapping: a real nats-server, given the
// configuration `vigil cluster nats-config` prints, puts every event on the partition partitionOf() names.
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderNatsConfig } from '../../src/cli/clusterConfig.js';
import { customerToken, parseEventSubject, partitionOf } from '../../src/cluster/partitioning.js';
import { OwnServer } from '../helpers/ownServices.js';

/** Customer ids of every kind: subject-safe ones (the token is the id) and ones that need the hashed token. */
const ID_KINDS: ((i: number) => string)[] = [
  (i) => `c${String(i).padStart(7, '0')}`,
  (i) => `${i}`,
  (i) => `user-${i}_x`,
  (i) => `customer${i}@example.com`,
  (i) => `Zoë Ünïcode ${i}`,
  (i) => `a.b.${i}`,
  (i) => `${'x'.repeat(120)}${i}`,
  (i) => `hash-me*${i}>`,
];
const customerIds = (n: number): string[] => Array.from({ length: n }, (_, i) => ID_KINDS[i % ID_KINDS.length](i));

const enc = new TextEncoder();

for (const partitions of [12, 7]) {
  describe(`NATS subject mapping with ${partitions} partitions`, () => {
    let server: OwnServer;
    let nc: NatsConnection;
    const stream = `MAPPING_${partitions}`;

    beforeAll(async () => {
      server = await OwnServer.natsWithConfig(renderNatsConfig({ partitions, prefix: 'events' }));
      nc = await connect({ servers: `nats://127.0.0.1:${server.port}` });
      await (await nc.jetstreamManager()).streams.add({ name: stream, subjects: ['events.>'] });
    });

    afterAll(async () => {
      await nc?.close();
      await server?.stop();
    });

    it('puts every event of events.<type>.<token> on events.part.<partitionOf(token)>.<type>.<token>', async () => {
      const js = nc.jetstream();
      const ids = customerIds(200);
      const published: { seq: number; token: string }[] = [];
      for (const [i, id] of ids.entries()) {
        const token = customerToken(id);
        const ack = await js.publish(`events.purchase.${token}`, enc.encode(JSON.stringify({ id: `e${i}`, customerId: id, type: 'purchase', ts: Date.now() })));
        published.push({ seq: ack.seq, token });
      }

      const jsm = await nc.jetstreamManager();
      const seen = new Set<number>();
      for (const { seq, token } of published) {
        const msg = await jsm.streams.getMessage(stream, { seq });
        const k = partitionOf(token, partitions);
        expect(msg.subject, token).toBe(`events.part.${k}.purchase.${token}`);
        expect(parseEventSubject(msg.subject, 'events')).toEqual({ kind: 'partitioned', partition: k, type: 'purchase', token });
        seen.add(k);
      }
      // 200 customers reach every partition, so each one was checked against the server.
      expect(seen.size).toBe(partitions);
    });

    it('leaves subjects without a customer token, and already partitioned ones, as they are', async () => {
      const js = nc.jetstream();
      const jsm = await nc.jetstreamManager();
      for (const subject of ['events.purchase', 'events.part.3.purchase.c0000001']) {
        const ack = await js.publish(subject, enc.encode('{}'));
        expect((await jsm.streams.getMessage(stream, { seq: ack.seq })).subject).toBe(subject);
      }
    });
  });
}
