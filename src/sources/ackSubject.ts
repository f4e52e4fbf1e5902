// A JetStream message's stream sequence, read from its ack subject without nats.js's parse of the whole subject.
// `JsMsg.seq` splits the reply subject into its tokens and builds an object of eleven fields with five parseInt
// calls, for every message: 3.4 % of the processor's main thread in the backlog (`npm run bench -- --profile`),
// where only the sequence is read. Here one pass over the subject's dots finds the sequence's token; a subject
// of another shape falls back to nats.js's own parse, so the answer is always the library's.
import type { JsMsg } from 'nats';

const ZERO = 48;
const DOT = 46;
/** `$JS.ACK.` as bytes. */
const PREFIX = [36, 74, 83, 46, 65, 67, 75, 46];
/** Where the dots of the subject being read are (a subject of interest has at most 11). */
const dots = new Int32Array(12);

/**
 * The stream sequence in an ack subject's bytes, or -1 when it is not one this reads:
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<streamSeq>.<deliverySeq>.<ts>.<pending>` (9 tokens, servers before 2.9)
 * or `$JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<streamSeq>.<deliverySeq>.<ts>.<pending>[.<rand>]`
 * (11 or 12). Stream and consumer names cannot hold a dot (nor can a UTF-8 sequence), so the tokens are the dots'
 * count.
 */
export function ackStreamSeqBytes(b: Uint8Array): number {
  if (b.length < PREFIX.length) return -1;
  for (let i = 0; i < PREFIX.length; i++) if (b[i] !== PREFIX[i]) return -1;
  let count = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] !== DOT) continue;
    if (count === dots.length) return -1;
    dots[count++] = i;
  }
  const tokens = count + 1;
  const index = tokens === 9 ? 5 : tokens === 11 || tokens === 12 ? 7 : -1;
  if (index === -1) return -1;
  // The token between the index-th dot and the next one.
  const start = dots[index - 1] + 1;
  const end = dots[index];
  if (end === start) return -1;
  let seq = 0;
  for (let i = start; i < end; i++) {
    const c = b[i] - ZERO;
    if (c < 0 || c > 9) return -1;
    seq = seq * 10 + c;
  }
  // Past what a double holds exactly (a stream sequence is a uint64): nats.js's parse, which rounds as it does.
  return Number.isSafeInteger(seq) ? seq : -1;
}

/** ackStreamSeqBytes of a subject given as a string. */
export function ackStreamSeq(subject: string): number {
  return ackStreamSeqBytes(Buffer.from(subject));
}

/** What nats.js's JsMsg holds and does not declare: its Msg, whose parsed arguments keep the reply subject's bytes. */
interface RawJsMsg {
  readonly msg?: { readonly _msg?: { readonly reply?: unknown } };
  readonly reply?: unknown;
}

/**
 * `m.seq`, read from the ack subject when it has a shape ackStreamSeqBytes knows, else nats.js's own parse. The
 * subject is read as the bytes nats.js parsed it into (its message's `_msg.reply`): the `reply` string costs a
 * TextDecoder call and a string per message (0.5 % of the backlog's main thread), and only the message a checkpoint
 * acknowledges needs it. Where a version of nats.js keeps the bytes elsewhere, the string; where neither is
 * there, nats.js's parse. tests/integration/ackSubject.test.ts holds the answer to nats.js's on a real server.
 */
export function streamSeqOf(m: JsMsg): number {
  const raw = m as JsMsg & RawJsMsg;
  const bytes = raw.msg?._msg?.reply;
  let seq = -1;
  if (bytes instanceof Uint8Array) seq = ackStreamSeqBytes(bytes);
  else {
    const reply = raw.reply;
    if (typeof reply === 'string') seq = ackStreamSeq(reply);
  }
  return seq === -1 ? m.seq : seq;
}
