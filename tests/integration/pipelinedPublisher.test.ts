// The pipelined publisher on a real NATS: KV writes that read back as kv.put and kv.delete's (value, delete marker,
// keys), a subject no stream takes (no responders), a message the stream refuses, and many in flight at once.
import { randomBytes } from 'node:crypto';
import { connect, DiscardPolicy } from 'nats';
import { describe, expect, it } from 'vitest';
import { kvDeleteHeaders, PipelinedPublisher } from '../../src/shared/pipelinedPublisher.js';
import { NATS_URL } from '../helpers/processor.js';

const enc = new TextEncoder();

describe('PipelinedPublisher on NATS', () => {
  it('writes KV keys that read back as kv.put and kv.delete wrote them, many in flight at once', async () => {
    const nc = await connect({ servers: NATS_URL });
    const bucket = `pipe_${randomBytes(3).toString('hex')}`;
    const pub = new PipelinedPublisher(nc);
    try {
      const kv = await nc.jetstream().views.kv(bucket, { history: 1 });
      const N = 2_000;
      await Promise.all(Array.from({ length: N }, (_, i) => pub.publish(`$KV.${bucket}.k${i}`, enc.encode(`v${i}`))));
      expect(pub.inFlight).toBe(0);
      expect((await kv.get('k1999'))?.string()).toBe('v1999');
      await Promise.all(Array.from({ length: N / 2 }, (_, i) => pub.publish(`$KV.${bucket}.k${i}`, new Uint8Array(0), kvDeleteHeaders())));
      const gone = await kv.get('k0');
      expect(gone?.operation).toBe('DEL');
      let keys = 0;
      for await (const _ of await kv.keys()) keys++;
      expect(keys).toBe(N / 2);
    } finally {
      pub.close();
      await (await nc.jetstreamManager()).streams.delete(`KV_${bucket}`).catch(() => undefined);
      await nc.close();
    }
  });

  it('rejects a message no stream takes and one the stream refuses, and stores the rest', async () => {
    const nc = await connect({ servers: NATS_URL });
    const tag = randomBytes(3).toString('hex');
    const jsm = await nc.jetstreamManager();
    const pub = new PipelinedPublisher(nc);
    try {
      await expect(pub.publish(`nostream.${tag}`, enc.encode('x'))).rejects.toThrow('no stream answers on the subject (no responders)');
      await jsm.streams.add({ name: `PIPE_${tag}`, subjects: [`pipe.${tag}`], max_msgs: 1, discard: DiscardPolicy.New });
      await pub.publish(`pipe.${tag}`, enc.encode('first'));
      await expect(pub.publish(`pipe.${tag}`, enc.encode('second'))).rejects.toThrow(/^JetStream refused the message: maximum messages exceeded/);
      expect((await jsm.streams.info(`PIPE_${tag}`)).state.messages).toBe(1);
    } finally {
      pub.close();
      await jsm.streams.delete(`PIPE_${tag}`).catch(() => undefined);
      await nc.close();
    }
  });
});
