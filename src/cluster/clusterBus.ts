// The NATS plumbing the cluster wall's parts share: JSON on subjects under one prefix, handlers that never throw
// into the NATS client or a timer, publishes that fail quietly when the connection is gone.
import type { Msg, NatsConnection, Subscription } from 'nats';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { utf8 } from '../shared/wtf8.js';

const dec = new TextDecoder();

/** A processor id as one subject token: host names carry dots. */
export function subjectToken(processorId: string): string {
  return processorId.replace(/[^A-Za-z0-9_-]/g, '_') || '_';
}

export function encodeJson(body: unknown): Uint8Array {
  return utf8(JSON.stringify(body));
}

/** The parsed JSON of a message, or null when it is not JSON. */
export function parseJson<T>(data: Uint8Array): T | null {
  try {
    return JSON.parse(dec.decode(data)) as T;
  } catch {
    return null;
  }
}

export class ClusterBus {
  constructor(
    readonly nc: NatsConnection,
    /** The cluster's own subjects: `<prefix>.summary.<id>`, `<prefix>.alerts.<id>`, `<prefix>.ack`, `<prefix>.silences`. */
    readonly prefix: string,
    private readonly log: Logger,
  ) {}

  get closed(): boolean {
    return this.nc.isClosed();
  }

  /** The largest message the server takes. */
  maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** A bad message (or a listener that throws) is logged, never thrown into the NATS client. */
  on(subject: string, handle: (m: Msg) => unknown): Subscription {
    return this.nc.subscribe(subject, { callback: (err, m) => (err ? undefined : this.guard(subject, () => handle(m))) });
  }

  guard(what: string, fn: () => unknown): void {
    try {
      fn();
    } catch (err) {
      this.log.warn({ err: errorMessage(err), what }, 'cluster wall: handling failed');
    }
  }

  publish(subject: string, body: unknown): boolean {
    return this.publishBytes(subject, encodeJson(body));
  }

  publishBytes(subject: string, data: Uint8Array): boolean {
    if (this.nc.isClosed()) return false;
    try {
      this.nc.publish(subject, data);
      return true;
    } catch (err) {
      this.log.debug({ err: errorMessage(err), subject }, 'cluster publish failed');
      return false;
    }
  }

  /** The parsed JSON answer of a request; rejects on a timeout, no responder or a closed connection. */
  async request<T>(subject: string, body: unknown, timeoutMs: number): Promise<T | null> {
    const reply = await this.nc.request(subject, encodeJson(body), { timeout: timeoutMs });
    return parseJson<T>(reply.data);
  }
}
