// Raw bytes on a TCP socket, for the hostile-client suite: HTTP requests no well-behaved client would send, and
// WebSocket frames built by hand (valid or not) after a hand-made upgrade.
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

/** Sends the bytes, half-closes, and resolves with whatever came back once the server closes (or the deadline passes). */
export function rawExchange(port: number, bytes: Buffer, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => socket.end(bytes));
  });
}

/** The status code of a raw HTTP response, or null when there was none. */
export function statusOf(response: string): number | null {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(response);
  return m ? Number(m[1]) : null;
}

export interface FrameSpec {
  fin: boolean;
  /** The three reserved bits, 0..7 (anything but 0 is invalid without an extension). */
  rsv: number;
  opcode: number;
  /** Clients must mask; an unmasked frame is a protocol error. */
  masked: boolean;
  payload: Buffer;
}

export function encodeFrame(spec: FrameSpec): Buffer {
  const len = spec.payload.length;
  const head: number[] = [(spec.fin ? 0x80 : 0) | ((spec.rsv & 7) << 4) | (spec.opcode & 0x0f)];
  const maskBit = spec.masked ? 0x80 : 0;
  if (len < 126) head.push(maskBit | len);
  else if (len < 65_536) head.push(maskBit | 126, len >> 8, len & 0xff);
  else head.push(maskBit | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff);
  if (!spec.masked) return Buffer.concat([Buffer.from(head), spec.payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(spec.payload);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([Buffer.from(head), mask, body]);
}

export const textFrame = (text: string): Buffer => encodeFrame({ fin: true, rsv: 0, opcode: 1, masked: true, payload: Buffer.from(text, 'utf8') });

/** Opens /ws by hand; resolves with the socket once the server answered 101, or null when it refused. */
export function rawUpgrade(port: number, extraHeaders = '', timeoutMs = 10_000): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    const finish = (result: Socket | null): void => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (!result) socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('error', () => finish(null));
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const end = got.indexOf('\r\n\r\n');
      if (end >= 0) finish(got.subarray(0, 12).toString('latin1') === 'HTTP/1.1 101' ? socket : null);
    });
    socket.on('connect', () => {
      socket.write(
        `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`,
      );
    });
  });
}

/** Writes the bytes, half-closes and waits for the server to close the connection (or the deadline). */
export function sendAndClose(socket: Socket, bytes: Buffer, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('error', done);
    socket.on('close', done);
    socket.resume();
    socket.end(bytes);
  });
}
