// The one seam between the wall and an HTTP + WebSocket server library, so uWebSockets.js and `ws` are interchangeable.
// Everything a transport hands over is plain data, already copied out of the library's buffers.

export type TransportName = 'uws' | 'ws';

export interface WallHttpRequest {
  /** Upper case, e.g. `GET`. */
  method: string;
  /** The path without the query string, e.g. `/api/v1/snapshot`. */
  path: string;
  query: URLSearchParams;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** Empty for requests without a body. */
  body: Buffer;
}

export interface WallHttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /**
   * A body too large to hold (a customer's export): sent chunk by chunk as it is read, each chunk only once the
   * socket took the last one, and stopped (the iterator returned) when the client goes away. Replaces `body`.
   */
  stream?: AsyncIterable<string | Buffer>;
}

/** An upgrade request carries no body. */
export type WallUpgradeRequest = Omit<WallHttpRequest, 'body'>;

export type UpgradeDecision<C> =
  | { accept: true; context: C }
  | { accept: false; status: number; body?: string; headers?: Record<string, string> };

/** One open WebSocket. Valid from `open` until `close`; after that `send` returns false and does nothing. */
export interface WallConnection<C> {
  readonly context: C;
  /**
   * Queues one text message; false when it was not queued (socket closed, or the library dropped it). A Buffer must
   * hold UTF-8: it is sent as a text frame as is, so a message going to many sockets is encoded once, not per socket.
   */
  send(text: string | Buffer): boolean;
  /** Bytes queued for this socket and not yet written to the network. */
  bufferedAmount(): number;
  close(code: number, reason: string): void;
}

export interface TransportHandlers<C> {
  /** The one path where WebSocket upgrades are accepted, e.g. `/ws`. */
  wsPath: string;
  /** Bytes a request body may carry; larger bodies get 413 without reaching `http`. */
  maxBodyBytes: number;
  http(req: WallHttpRequest): Promise<WallHttpResponse>;
  /** Synchronous on purpose: the decision needs only the request's headers and query. */
  upgrade(req: WallUpgradeRequest): UpgradeDecision<C>;
  open(conn: WallConnection<C>): void;
  message(conn: WallConnection<C>, text: string): void;
  close(conn: WallConnection<C>, code: number): void;
}

export interface TransportOptions {
  /** Largest message a client may send; clients only send small commands. */
  maxMessageBytes: number;
  /** Per-socket queue bound where the library itself would drop messages; kept above the wall's own skip threshold. */
  maxBackpressureBytes: number;
  /**
   * Connections held open at once, HTTP and WebSocket together: one more is closed as it is accepted (node:http's
   * `maxConnections`). The `ws` transport only: the budget's port sets it; the wall bounds its WebSocket clients itself.
   */
  maxConnections?: number;
}

export interface WallTransport {
  readonly name: TransportName;
  /** Binds and resolves with the bound port (useful with port 0). */
  listen(host: string, port: number): Promise<number>;
  /** Stops listening and closes every open connection (WebSockets with 1001 going away). */
  close(): Promise<void>;
}

export type TransportFactory = <C>(handlers: TransportHandlers<C>, options: TransportOptions) => WallTransport;
