// JetStream publishes that are acknowledged without a request each. nats.js's js.publish() (and so kv.put/delete) is
// a request per message: its own timer, an entry in the connection's request mux, and on success a NatsError built
// with its stack trace to reject the promise already settled (RequestOne.cancel). For the contact budget's KV mirror,
// which writes a key for nearly every check while senders ask, that was ~10 % of the processor's main thread in the
// bench's budget phase. Here every message carries a reply subject under one inbox subscribed once, its ack is matched
// by the token at the end of the subject, and one sweep fails those unanswered after the timeout.
import { createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { every, systemClock, type Cancel, type SchedulingClock } from './clock.js';
import { errorMessage } from './errors.js';

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
  deadline: number;
}

const utf8 = new TextDecoder();

/** What a JetStream ack says: nothing for a stored message, else why not. */
export function ackProblem(msg: Pick<Msg, 'data' | 'headers'>): string | null {
  // No stream listens on the subject: the server answers the reply subject with a 503 status and no data.
  if (msg.headers?.hasError) return msg.headers.code === 503 ? 'no stream answers on the subject (no responders)' : `status ${msg.headers.code} ${msg.headers.description}`;
  let ack: unknown;
  try {
    ack = JSON.parse(utf8.decode(msg.data));
  } catch {
    return 'the ack is not JSON';
  }
  if (ack === null || typeof ack !== 'object') return 'the ack is not an object';
  const { error, seq } = ack as { error?: { description?: unknown; code?: unknown }; seq?: unknown };
  if (error) return `JetStream refused the message: ${String(error.description ?? error.code ?? 'unknown error')}`;
  return typeof seq === 'number' ? null : 'the ack names no stream sequence';
}

export class PipelinedPublisher {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly waiting = new Map<string, Waiter>();
  private readonly stopSweep: Cancel;
  private next = 0;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5_000,
    private readonly clock: SchedulingClock = systemClock,
  ) {
    // Under the same _INBOX prefix as the connection's own requests (Vigil sets no other), so the same permissions apply.
    this.prefix = `${createInbox()}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => (err ? this.failAll(errorMessage(err)) : this.settle(msg)) });
    this.stopSweep = every(clock, Math.max(1, Math.floor(timeoutMs / 2)), () => this.sweep());
  }

  /** Acks not yet received. */
  get inFlight(): number {
    return this.waiting.size;
  }

  /** Resolves once the stream stored the message; rejects with the reason it did not, or after the timeout. */
  publish(subject: string, data: Uint8Array, headers?: MsgHdrs): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the publisher is closed'));
    const token = (++this.next).toString(36);
    return new Promise<void>((resolve, reject) => {
      try {
        this.nc.publish(subject, data, { reply: this.prefix + token, headers });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      this.waiting.set(token, { resolve, reject, deadline: this.clock.now() + this.timeoutMs });
    });
  }

  /** Fails what is still waiting and stops listening. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopSweep();
    this.failAll('the publisher closed before the ack came');
    this.sub.unsubscribe();
  }

  private settle(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const w = this.waiting.get(token);
    if (!w) return; // timed out already
    this.waiting.delete(token);
    const problem = ackProblem(msg);
    if (problem === null) w.resolve();
    else w.reject(new Error(problem));
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [token, w] of this.waiting) {
      // Deadlines are in the order of the map (one timeout, a clock that does not go back): stop at the first to come.
      if (w.deadline > now) break;
      this.waiting.delete(token);
      w.reject(new Error(`no ack within ${this.timeoutMs} ms`));
    }
  }

  private failAll(reason: string): void {
    for (const w of this.waiting.values()) w.reject(new Error(reason));
    this.waiting.clear();
  }
}

/** The headers of a KV delete (what kv.delete() sends): the key stays in the stream as a delete marker. */
export function kvDeleteHeaders(): MsgHdrs {
  const h = natsHeaders();
  h.set('KV-Operation', 'DEL');
  return h;
}
