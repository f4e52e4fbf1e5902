// The portable transport: node:http plus the `ws` package, for Node versions where uWebSockets.js has no binary.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import type {
  TransportHandlers,
  TransportOptions,
  WallConnection,
  WallHttpResponse,
  WallTransport,
  WallUpgradeRequest,
} from './types.js';
import { backgroundClock, every, type Cancel } from '../../shared/clock.js';
import { parseRequestTarget } from '../edgePolicy.js';
import { BAD_TARGET_BODY, INTERNAL_ERROR_BODY, TOO_LARGE_BODY, statusLine } from './httpStatus.js';

/** uWS pings idle sockets by itself; here a silent peer (no pong within one interval) is dropped so it cannot pile up buffers. */
const HEARTBEAT_MS = 30_000;

export function createWsTransport<C>(handlers: TransportHandlers<C>, options: TransportOptions): WallTransport {
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes, perMessageDeflate: false });
  const connections = new Map<WebSocket, { conn: WallConnection<C>; alive: boolean }>();
  let server: Server | null = null;
  let stopHeartbeat: Cancel | null = null;

  /** Nothing a request does may escape a handler: whatever throws becomes a 500 (or a cut socket), never an exit. */
  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    try {
      handleRequest(req, res);
    } catch {
      internalError(res);
    }
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > handlers.maxBodyBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (tooLarge) {
        write(res, { status: 413, headers: { 'content-type': 'application/json' }, body: TOO_LARGE_BODY });
        return;
      }
      try {
        const target = parseRequestTarget(req.url);
        if (!target) {
          write(res, { status: 400, headers: { 'content-type': 'application/json' }, body: BAD_TARGET_BODY });
          return;
        }
        handlers
          .http({ method: (req.method ?? 'GET').toUpperCase(), path: target.path, query: target.query, headers: flattenHeaders(req), body: Buffer.concat(chunks) })
          .then((out) => write(res, out))
          .catch(() => internalError(res));
      } catch {
        internalError(res);
      }
    });
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // node:http hands the socket over without its own error listener: a reset peer must not become an uncaught 'error'.
    socket.on('error', () => socket.destroy());
    try {
      handleUpgrade(req, socket, head);
    } catch {
      if (!socket.destroyed) rejectUpgrade(socket, 500, INTERNAL_ERROR_BODY, { 'content-type': 'application/json' });
    }
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const target = parseRequestTarget(req.url);
    if (!target) {
      rejectUpgrade(socket, 400, BAD_TARGET_BODY, { 'content-type': 'application/json' });
      return;
    }
    const { path, query } = target;
    if (path !== handlers.wsPath) {
      rejectUpgrade(socket, 404, 'not found', {});
      return;
    }
    const request: WallUpgradeRequest = { method: (req.method ?? 'GET').toUpperCase(), path, query, headers: flattenHeaders(req) };
    const decision = handlers.upgrade(request);
    if (!decision.accept) {
      rejectUpgrade(socket, decision.status, decision.body ?? '', decision.headers ?? {});
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = wrap(ws, decision.context);
      connections.set(ws, { conn, alive: true });
      ws.on('pong', () => {
        const entry = connections.get(ws);
        if (entry) entry.alive = true;
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        guarded(ws, () => handlers.message(conn, rawToString(data)));
      });
      ws.on('close', (code) => {
        connections.delete(ws);
        guarded(ws, () => handlers.close(conn, code));
      });
      // Invalid frames (bad UTF-8, reserved bits, oversized payloads) end here: ws has already sent the close code.
      ws.on('error', () => ws.terminate());
      guarded(ws, () => handlers.open(conn));
    });
  }

  function beat(): void {
    for (const [ws, entry] of connections) {
      if (!entry.alive) {
        ws.terminate();
        continue;
      }
      entry.alive = false;
      ws.ping();
    }
  }

  return {
    name: 'ws',
    listen(host, port) {
      return new Promise<number>((resolve, reject) => {
        const srv = createServer(onRequest);
        if (options.maxConnections !== undefined) srv.maxConnections = options.maxConnections;
        srv.on('upgrade', onUpgrade);
        srv.once('error', reject);
        srv.listen(port, host, () => {
          srv.off('error', reject);
          server = srv;
          // Paced by real time whatever clock the wall runs on: the pongs it waits for come over real sockets.
          stopHeartbeat = every(backgroundClock, HEARTBEAT_MS, beat);
          const address = srv.address();
          resolve(typeof address === 'object' && address !== null ? address.port : port);
        });
      });
    },
    async close() {
      stopHeartbeat?.();
      stopHeartbeat = null;
      for (const ws of connections.keys()) ws.close(1001, 'server shutting down');
      const srv = server;
      server = null;
      if (!srv) return;
      await new Promise<void>((resolve) => {
        srv.close(() => resolve());
        srv.closeAllConnections();
      });
      // Peers that never answer the close handshake are cut, so close() cannot hang on them.
      for (const ws of connections.keys()) ws.terminate();
      wss.close();
    },
  };
}

function wrap<C>(ws: WebSocket, context: C): WallConnection<C> {
  return {
    context,
    send(text) {
      if (ws.readyState !== WebSocket.OPEN) return false;
      // binary: false keeps a Buffer a text frame.
      ws.send(text, { binary: false });
      return true;
    },
    bufferedAmount: () => ws.bufferedAmount,
    close(code, reason) {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
    },
  };
}

/** A connection handler that throws closes its socket (1011) instead of the process. */
function guarded(ws: WebSocket, run: () => void): void {
  try {
    run();
  } catch {
    if (ws.readyState === WebSocket.OPEN) ws.close(1011, 'internal error');
  }
}

function write(res: ServerResponse, out: WallHttpResponse): void {
  if (res.writableEnded || res.destroyed) return;
  if (out.stream) {
    void writeStream(res, out, out.stream);
    return;
  }
  try {
    const body = out.body ?? '';
    res.writeHead(out.status, { ...out.headers, 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  } catch {
    res.destroy();
  }
}

/** Chunked: a chunk waits for the socket to drain; a failure part-way cuts the connection (the body is incomplete). */
async function writeStream(res: ServerResponse, out: WallHttpResponse, stream: AsyncIterable<string | Buffer>): Promise<void> {
  try {
    res.writeHead(out.status, out.headers);
    for await (const chunk of stream) {
      if (res.destroyed) break; // leaving the loop returns the iterator: the export stops reading
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done).off('close', done);
            resolve();
          };
          res.on('drain', done).on('close', done);
        });
      }
    }
    if (!res.destroyed) res.end();
  } catch {
    res.destroy();
  }
}

function internalError(res: ServerResponse): void {
  if (res.headersSent) res.destroy();
  else write(res, { status: 500, headers: { 'content-type': 'application/json' }, body: INTERNAL_ERROR_BODY });
}

function rejectUpgrade(socket: Duplex, status: number, body: string, headers: Record<string, string>): void {
  const lines = [`HTTP/1.1 ${statusLine(status)}`, 'connection: close', `content-length: ${Buffer.byteLength(body)}`];
  for (const [key, value] of Object.entries(headers)) lines.push(`${key}: ${value}`);
  if (!socket.destroyed) socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function rawToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
