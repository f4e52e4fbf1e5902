// Checkpoints in a JetStream object store: beside the stream they index, on disk, chunked, and kept through a
// NATS restart (this machine's Redis keeps nothing on disk, and a checkpoint of a million customers is ~300 MB).
//
// Written and read here in the object store's own format (chunks on $O.<bucket>.C.<nuid>, then the object's info on
// $O.<bucket>.M.<name>), so `nats object get` and nats.js read them, but not through nats.js's put and get: those
// hash every byte with a JavaScript SHA-256 on the processor's thread (seconds for a large state, most of the
// processor's time at a million customers) and publish every chunk at once. Here the digest comes with the blob
// (the processor's packing hashes the deflated pieces as they come, shared/snapshotCodec.ts) or is WebCrypto's, and a
// few chunks are in flight at a time.
import { webcrypto } from 'node:crypto';
import { JsHeaders, StorageType, headers, nuid, type NatsConnection, type ObjectInfo, type ObjectStore } from 'nats';

export interface CheckpointStore {
  /** The latest checkpoint, or null when there is none. */
  load(): Promise<Uint8Array | null>;
  /** `sha256`: the blob's digest when the caller has it already (packSnapshot); else it is worked out here. */
  save(blob: Uint8Array, sha256?: Uint8Array): Promise<void>;
  delete(): Promise<void>;
}

const CHUNK_BYTES = 1024 * 1024;
/** Chunks published and not yet acknowledged: enough to keep the stream busy, few enough not to time out. */
const IN_FLIGHT = 4;
const TIMEOUT_MS = 30_000;

/** base64url with its padding, as the object store names objects and digests. */
function base64UrlPadded(bytes: Uint8Array): string {
  const s = Buffer.from(bytes).toString('base64url');
  return s + '='.repeat((4 - (s.length % 4)) % 4);
}

/** The object store's form of a digest. */
const digestText = (sha256: Uint8Array): string => `SHA-256=${base64UrlPadded(sha256)}`;

async function sha256Of(blob: Uint8Array): Promise<string> {
  return digestText(new Uint8Array(await webcrypto.subtle.digest('SHA-256', blob)));
}

export async function natsCheckpointStore(nc: NatsConnection, bucket: string, name: string, replicas = 1): Promise<CheckpointStore> {
  const os: ObjectStore = await nc.jetstream().views.os(bucket, { storage: StorageType.File, description: 'Vigil processor checkpoints', replicas });
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const stream = `OBJ_${bucket}`;
  const metaSubject = `$O.${bucket}.M.${base64UrlPadded(new TextEncoder().encode(name))}`;
  const chunkSubject = (id: string) => `$O.${bucket}.C.${id}`;

  const save = async (blob: Uint8Array, sha256?: Uint8Array): Promise<void> => {
    const old: ObjectInfo | null = await os.info(name);
    const id = nuid.next();
    const chunkSize = Math.min(CHUNK_BYTES, nc.info?.max_payload ?? CHUNK_BYTES);
    const digest = sha256 ? Promise.resolve(digestText(sha256)) : sha256Of(blob);
    let chunks = 0;
    try {
      const inFlight = new Set<Promise<unknown>>();
      for (let at = 0; at < blob.byteLength; at += chunkSize) {
        const p = js.publish(chunkSubject(id), blob.subarray(at, at + chunkSize), { timeout: TIMEOUT_MS });
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p)).catch(() => undefined);
        chunks++;
        if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      const info = { name, description: '', options: { max_chunk_size: chunkSize }, bucket, nuid: id, size: blob.byteLength, chunks, mtime: new Date().toISOString(), digest: await digest, deleted: false };
      // The object's info replaces the previous one (rollup): from here on the new checkpoint is the one read.
      const h = headers();
      h.set(JsHeaders.RollupHdr, JsHeaders.RollupValueSubject);
      await js.publish(metaSubject, new TextEncoder().encode(JSON.stringify(info)), { headers: h, timeout: TIMEOUT_MS });
    } catch (err) {
      await jsm.streams.purge(stream, { filter: chunkSubject(id) }).catch(() => undefined);
      throw err;
    }
    if (old && !old.deleted) await jsm.streams.purge(stream, { filter: chunkSubject(old.nuid) }).catch(() => undefined);
  };

  const load = async (): Promise<Uint8Array | null> => {
    const info = await os.info(name);
    if (!info || info.deleted) return null;
    const out = new Uint8Array(info.size);
    if (info.size > 0) {
      const consumer = await js.consumers.get(stream, { filterSubjects: chunkSubject(info.nuid) });
      const messages = await consumer.consume({ max_messages: 8 });
      let at = 0;
      for await (const m of messages) {
        out.set(m.data, at);
        at += m.data.byteLength;
        if (m.info.pending === 0) break;
      }
      messages.stop();
      if (at !== info.size) throw new Error(`checkpoint ${name}: read ${at} of ${info.size} bytes`);
    }
    if ((await sha256Of(out)) !== info.digest) throw new Error(`checkpoint ${name}: digest does not match, the object is corrupt`);
    return out;
  };

  return {
    load,
    save,
    delete: async () => {
      await os.delete(name).catch(() => undefined);
    },
  };
}
