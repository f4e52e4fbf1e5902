import { describe, expect, it } from 'vitest';
import type { JsMsg } from 'nats';
import { createRng } from '../signals/models/random.js';
import { ackStreamSeq, streamSeqOf } from './ackSubject.js';

/** nats.js's own reading of an ack subject (lib/jetstream/jsmsg.js parseInfo), as the reference. */
function reference(subject: string): number {
  const tokens = subject.split('.');
  if (tokens.length === 9) tokens.splice(2, 0, '_', '');
  if (tokens.length < 11 || tokens[0] !== '$JS' || tokens[1] !== 'ACK') throw new Error('not js message');
  return parseInt(tokens[7], 10);
}

describe('ackStreamSeq', () => {
  it('reads the stream sequence of the three shapes the server sends, as nats.js does', () => {
    const old = '$JS.ACK.EVENTS.vigil.1.42.17.1733500000000000000.9';
    const domained = '$JS.ACK._.ABCDEF.EVENTS.vigil.2.1234567.89.1733500000000000000.0';
    const random = '$JS.ACK.hub.ABCDEF.EVENTS.vigil.1.9007199254740991.3.1733500000000000000.12.xYz';
    expect([old, domained, random].map(ackStreamSeq)).toEqual([42, 1234567, 9007199254740991]);
    expect([old, domained, random].map(reference)).toEqual([42, 1234567, 9007199254740991]);
  });

  it('agrees with nats.js on seeded subjects of every shape', () => {
    const rng = createRng(15);
    const rnd = () => rng.uniform();
    const name = () => Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => 'ABCxyz_-09'[Math.floor(rnd() * 10)]).join('');
    const num = () => String(Math.floor(rnd() * 2 ** (1 + Math.floor(rnd() * 52))));
    for (let k = 0; k < 2_000; k++) {
      const tail = [num(), num(), num(), num(), num()];
      const shape = k % 3;
      const subject = shape === 0 ? ['$JS', 'ACK', name(), name(), ...tail].join('.')
        : shape === 1 ? ['$JS', 'ACK', name(), name(), name(), name(), ...tail, num()].slice(0, 11).join('.')
        : ['$JS', 'ACK', name(), name(), name(), name(), ...tail, name()].join('.');
      expect(ackStreamSeq(subject), subject).toBe(reference(subject));
    }
  });

  it('answers -1, for nats.js to parse, for anything else', () => {
    for (const subject of [
      '',
      'events.click',
      '$JS.ACK.EVENTS.vigil.1.42.17.1733500000000000000', // 8 tokens
      '$JS.ACK.a.b.EVENTS.vigil.1.42.17.1733500000000000000', // 10 tokens
      '$JS.ACK.EVENTS.vigil.1.4x2.17.1.9', // not digits
      '$JS.ACK.EVENTS.vigil.1..17.1.9', // empty
      '$JS.ACK.EVENTS.vigil.1.-4.17.1.9',
      '$JS.ACK.EVENTS.vigil.1.99999999999999999999.17.1.9', // past 2^53
      '$JS.NAK.EVENTS.vigil.1.42.17.1.9',
    ]) expect(ackStreamSeq(subject), subject).toBe(-1);
  });
});

describe('streamSeqOf', () => {
  it("reads the reply when it has a known shape, else asks the message (nats.js's parse)", () => {
    let asked = 0;
    const msg = (reply: unknown) => ({ reply, get seq() { return ++asked, 7; } }) as unknown as JsMsg;
    expect(streamSeqOf(msg('$JS.ACK.EVENTS.vigil.1.42.17.1.9'))).toBe(42);
    expect(asked).toBe(0);
    expect(streamSeqOf(msg('$JS.ACK.strange'))).toBe(7);
    expect(streamSeqOf(msg(undefined))).toBe(7);
    expect(asked).toBe(2);
  });

  it('reads the bytes nats.js parsed the reply into, without its string, when the message has them', () => {
    let decoded = 0;
    let asked = 0;
    const msg = (bytes: unknown, reply: string) =>
      ({
        msg: { _msg: { reply: bytes } },
        get reply() { return ++decoded, reply; },
        get seq() { return ++asked, 7; },
      }) as unknown as JsMsg;
    expect(streamSeqOf(msg(Buffer.from('$JS.ACK._.ABCDEF.EVENTS.vigil.2.1234567.89.1733500000000000000.0'), '$JS.ACK.EVENTS.vigil.1.42.17.1.9'))).toBe(1234567);
    expect(decoded).toBe(0);
    // Bytes of another shape: nats.js's parse, not the string.
    expect(streamSeqOf(msg(Buffer.from('$JS.ACK.strange'), '$JS.ACK.EVENTS.vigil.1.42.17.1.9'))).toBe(7);
    expect([decoded, asked]).toEqual([0, 1]);
    // No bytes where they are expected (another nats.js): the string.
    expect(streamSeqOf(msg('not bytes', '$JS.ACK.EVENTS.vigil.1.42.17.1.9'))).toBe(42);
    expect(decoded).toBe(1);
  });
});
