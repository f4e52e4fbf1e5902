// The default id of a processor among those sharing the partitions, in a module of its own so that the
// worker-threads supervisor (src/threads.ts) can name its threads without loading the whole processor.
import { hostname } from 'node:os';

/** Host name and process id, as NATS subjects and KV keys allow them. */
export function defaultProcessorId(): string {
  return `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
}
