// A JetStream stream brought to a wanted configuration, created when missing: what the EVENTS stream and the
// cluster's partials stream share. Processors of one deployment start together and each ensures the same stream, so
// creation races: between one's look (not found) and its add, another may have created it, and the server then
// answers the add with an error (on 2.9, "subjects overlap with an existing stream": the stream it overlaps is the one
// just created). A failed add is followed by one more look, which finds the stream the other processor made.
import { RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from 'nats';
import { isStreamNotFound } from './natsErrors.js';

export type StreamOutcome = 'created' | 'updated' | 'kept';

/**
 * Creates stream `name` with `wanted` (limits retention, file storage) when it does not exist; when it does and
 * `differs(config)` says its configuration is not the wanted one, updates it with `wanted`.
 */
export async function ensureStreamConfig(jsm: JetStreamManager, name: string, wanted: Partial<StreamConfig>, differs: (c: StreamConfig) => boolean): Promise<StreamOutcome> {
  for (let attempt = 0; ; attempt++) {
    try {
      const c = (await jsm.streams.info(name)).config;
      if (!differs(c)) return 'kept';
      await jsm.streams.update(name, { ...c, ...wanted });
      return 'updated';
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
    }
    try {
      await jsm.streams.add({ name, retention: RetentionPolicy.Limits, storage: StorageType.File, ...wanted });
      return 'created';
    } catch (err) {
      // Another processor created it since the look above: look again, once; any other failure is this one's.
      if (attempt > 0) throw err;
    }
  }
}
