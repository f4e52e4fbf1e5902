// NATS fan-out: dead letters on the dead-letter subject and alert state changes on alerts.<severity>.
// Core publishes: a slow or absent subscriber never slows the processor.
import type { NatsConnection } from 'nats';
import type { AlertView } from '../contract/frames.js';
import type { RejectedRecord } from '../contract/outputs.js';
import type { Notification } from '../alerts/grouping.js';
import { MAX_DEAD_LETTER_PAYLOAD } from './clickhouseOutputs.js';
import { utf8 } from '../shared/wtf8.js';


export class NatsOutputs {
  deadLetters = 0;
  alerts = 0;
  notificationDeadLetters = 0;
  /**
   * Messages of this turn of the event loop, published together at its end: the consumer loop lets microtasks run
   * after every event, so each publish went out as a socket write of its own (an alert storm in a backlog: tens of
   * thousands of writes, the largest single cost on the event loop after parsing).
   */
  private queued: { subject: string; data: Uint8Array }[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly deadLetterSubject: string,
    private readonly alertSubjectPrefix: string,
  ) {}

  rejected(r: RejectedRecord): void {
    if (this.nc.isClosed()) return;
    const body = {
      reason: r.reason,
      detail: r.detail,
      subject: r.subject,
      streamSeq: r.streamSeq,
      receivedAt: r.receivedAt,
      payloadBytes: r.payloadBytes ?? r.payload.byteLength,
      // base64 keeps the exact bytes, invalid UTF-8 included; bounded like the ClickHouse copy.
      payloadBase64: Buffer.from(r.payload.subarray(0, MAX_DEAD_LETTER_PAYLOAD)).toString('base64'),
      truncated: r.payload.byteLength > MAX_DEAD_LETTER_PAYLOAD,
    };
    this.publish(this.deadLetterSubject, utf8(JSON.stringify(body)));
    this.deadLetters++;
  }

  /** A notification the webhook could not deliver: kept on NATS with why, for a person or a replayer. */
  notificationDeadLetter(subject: string, n: Notification, reason: string): void {
    this.notificationDeadLetters++;
    if (this.nc.isClosed()) return;
    this.publish(subject, utf8(JSON.stringify({ reason, notification: n })));
  }

  alert(a: AlertView): void {
    if (this.nc.isClosed()) return;
    this.publish(`${this.alertSubjectPrefix}.${a.severity}`, utf8(JSON.stringify(a)));
    this.alerts++;
  }

  private publish(subject: string, data: Uint8Array): void {
    this.queued.push({ subject, data });
    if (this.queued.length === 1) setImmediate(() => this.publishQueued());
  }

  private publishQueued(): void {
    const list = this.queued;
    this.queued = [];
    if (this.nc.isClosed()) return;
    for (const m of list) this.nc.publish(m.subject, m.data);
  }
}
