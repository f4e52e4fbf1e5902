// A WebSocket client for the wall's tests: records every message (flush arrays flattened to frames) and waits for conditions.
import WebSocket from 'ws';
import type { WallFrame } from '../../src/contract/frames.js';

export type AnyMessage = { type: string; [key: string]: unknown };

export class WallTestClient {
  /** Every message as received: single objects, and flushes as arrays. */
  readonly messages: (AnyMessage | WallFrame[])[] = [];
  bytes = 0;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      this.bytes += data.length;
      this.messages.push(JSON.parse(data.toString('utf8')) as AnyMessage | WallFrame[]);
      for (const wake of this.waiters) wake();
    });
    socket.on('close', () => {
      for (const wake of this.waiters) wake();
    });
  }

  /** Opens a socket; rejects with `{ status }` when the server refuses the upgrade. */
  static connect(url: string, headers: Record<string, string> = {}): Promise<WallTestClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      const client = new WallTestClient(socket);
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode }));
        socket.terminate();
      });
      socket.once('error', reject);
    });
  }

  /** Every single object and every frame of every flush, in arrival order. */
  get items(): AnyMessage[] {
    return this.messages.flatMap((message) => (Array.isArray(message) ? (message as unknown as AnyMessage[]) : [message]));
  }

  get closed(): boolean {
    return this.socket.readyState === WebSocket.CLOSED;
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Resolves with the first item matching the predicate (looking at everything received so far, then at what arrives). */
  waitFor<T extends AnyMessage = AnyMessage>(predicate: (item: AnyMessage) => boolean, timeoutMs = 5_000, what = 'a matching message'): Promise<T> {
    return this.until(() => this.items.find(predicate) as T | undefined, timeoutMs, what);
  }

  waitForClose(timeoutMs = 5_000): Promise<void> {
    return this.until(() => (this.closed ? true : undefined), timeoutMs, 'the socket to close').then(() => undefined);
  }

  until<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = probe();
        if (found === undefined) return false;
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(found);
        return true;
      };
      const wake = (): void => {
        check();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${this.messages.length} messages`));
      }, timeoutMs);
      if (!check()) this.waiters.add(wake);
    });
  }

  close(): void {
    this.socket.close();
  }
}
