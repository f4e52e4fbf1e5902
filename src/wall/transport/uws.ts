// The fast transport: uWebSockets.js, whose native binary exists only for some Node ABIs (16–20 in the version we pin).
// Loaded on demand inside try/catch, so a missing binary (Node 22/24) is a clear VigilError, never a crash at import.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Uws from 'uWebSockets.js';
import { VigilError, errorMessage } from '../../shared/errors.js';
import type {
  TransportFactory,
  TransportHandlers,
  TransportOptions,
  WallConnection,
  WallHttpRequest,
  WallHttpResponse,
  WallTransport,
} from './types.js';
import { parseRequestTarget } from '../edgePolicy.js';
import { BAD_TARGET_BODY, INTERNAL_ERROR_BODY, TOO_LARGE_BODY, statusLine } from './httpStatus.js';

type UwsModule = typeof Uws;

let loaded: UwsModule | null = null;

/**
 * Loads the native binary itself rather than the package's entry point: that entry falls back, with only a console
 * warning, to a slow pure-JS imitation. Synchronous (the package is CommonJS) so the wall knows its transport at once.
 * Throws VigilError WALL_TRANSPORT_UNAVAILABLE when this Node cannot run it.
 */
export function loadUws(): UwsModule {
  if (loaded) return loaded;
  const abi = process.versions.modules;
  const unavailable = (why: string, cause?: unknown): VigilError =>
    new VigilError(
      'WALL_TRANSPORT_UNAVAILABLE',
      `uWebSockets.js cannot run on Node ${process.version} (${process.platform}-${process.arch}, ABI ${abi}): ${why}; set wall.transport to 'ws' or 'auto'`,
      { cause },
    );
  const require = createRequire(import.meta.url);
  let binary: string;
  try {
    binary = join(dirname(require.resolve('uWebSockets.js')), '..', 'binaries', `uws_${process.platform}_${process.arch}_${abi}.node`);
  } catch (err) {
    throw unavailable(`the package is not installed (${errorMessage(err)})`, err);
  }
  if (!existsSync(binary)) throw unavailable(`it ships no binary for this ABI (looked for ${binary})`);
  try {
    loaded = require(binary) as UwsModule;
  } catch (err) {
    throw unavailable(`its binary does not load (${errorMessage(err)})`, err);
  }
  return loaded;
}

interface SocketData<C> {
  context: C;
  conn: WallConnection<C> | null;
  closed: boolean;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function createUwsTransport(uws: UwsModule): TransportFactory {
  return function uwsTransport<C>(handlers: TransportHandlers<C>, options: TransportOptions): WallTransport {
    const app = uws.App();
    const sockets = new Set<Uws.WebSocket<SocketData<C>>>();
    let listenSocket: Uws.us_listen_socket | null = null;

    app.ws<SocketData<C>>(handlers.wsPath, {
      compression: uws.DISABLED,
      maxPayloadLength: options.maxMessageBytes,
      maxBackpressure: options.maxBackpressureBytes,
      idleTimeout: 120,
      sendPingsAutomatically: true,
      upgrade(res, req, context) {
        // The request object is only valid synchronously, so read everything before deciding. Nothing may throw out.
        try {
          const key = req.getHeader('sec-websocket-key');
          const protocol = req.getHeader('sec-websocket-protocol');
          const extensions = req.getHeader('sec-websocket-extensions');
          const request = readRequest(req);
          let decision: ReturnType<typeof handlers.upgrade>;
          if (!request) {
            decision = { accept: false, status: 400, body: BAD_TARGET_BODY, headers: { 'content-type': 'application/json' } };
          } else {
            try {
              decision = handlers.upgrade(request);
            } catch {
              decision = { accept: false, status: 500, body: INTERNAL_ERROR_BODY, headers: { 'content-type': 'application/json' } };
            }
          }
          if (decision.accept) {
            res.upgrade<SocketData<C>>({ context: decision.context, conn: null, closed: false }, key, protocol, extensions, context);
            return;
          }
          const refused = decision;
          res.cork(() => {
            res.writeStatus(statusLine(refused.status));
            for (const [name, value] of Object.entries(refused.headers ?? {})) res.writeHeader(name, value);
            res.end(refused.body ?? '', true);
          });
        } catch {
          res.close();
        }
      },
      open(ws) {
        const data = ws.getUserData();
        const conn = wrap(ws, data);
        data.conn = conn;
        sockets.add(ws);
        guarded(ws, data, () => handlers.open(conn));
      },
      message(ws, message, isBinary) {
        const data = ws.getUserData();
        const conn = data.conn;
        // Buffer#toString copies the bytes out before uWS neuters the ArrayBuffer.
        if (conn && !isBinary) guarded(ws, data, () => handlers.message(conn, Buffer.from(message).toString('utf8')));
      },
      close(ws, code) {
        const data = ws.getUserData();
        data.closed = true;
        sockets.delete(ws);
        const conn = data.conn;
        if (conn) guarded(ws, data, () => handlers.close(conn, code));
      },
    });

    app.any('/*', (res, req) => {
      try {
        serveHttp(res, req);
      } catch {
        res.close();
      }
    });

    function serveHttp(res: Uws.HttpResponse, req: Uws.HttpRequest): void {
      const request = readRequest(req);
      let aborted = false;
      /** The client went away (aborted is also set once a response is on its way). */
      let gone = false;
      let wake: (() => void) | null = null;
      res.onAborted(() => {
        aborted = true;
        gone = true;
        wake?.();
      });
      if (!request) {
        aborted = true;
        res.cork(() => {
          res.writeStatus(statusLine(400)).writeHeader('content-type', 'application/json');
          res.end(BAD_TARGET_BODY, true);
        });
        return;
      }
      /** Chunk by chunk, each once uWS took the last (onWritable); a failure part-way closes the connection. */
      const respondStream = async (out: WallHttpResponse, stream: AsyncIterable<string | Buffer>): Promise<void> => {
        try {
          res.cork(() => {
            res.writeStatus(statusLine(out.status));
            for (const [name, value] of Object.entries(out.headers ?? {})) res.writeHeader(name, value);
          });
          for await (const chunk of stream) {
            if (gone) break; // leaving the loop returns the iterator: the export stops reading
            let taken = true;
            res.cork(() => {
              taken = res.write(chunk);
            });
            if (!taken && !gone) {
              await new Promise<void>((resolve) => {
                wake = resolve;
                res.onWritable(() => {
                  resolve();
                  return true;
                });
              });
              wake = null;
            }
          }
          if (!gone) res.cork(() => res.end());
        } catch {
          if (!gone) res.close();
        }
      };
      const respond = (out: WallHttpResponse): void => {
        if (aborted) return;
        aborted = true;
        if (out.stream) {
          void respondStream(out, out.stream);
          return;
        }
        try {
          res.cork(() => {
            res.writeStatus(statusLine(out.status));
            for (const [name, value] of Object.entries(out.headers ?? {})) res.writeHeader(name, value);
            res.end(out.body ?? '');
          });
        } catch {
          res.close();
        }
      };
      const dispatch = (body: Buffer): void => {
        const internal = (): void => respond({ status: 500, headers: { 'content-type': 'application/json' }, body: INTERNAL_ERROR_BODY });
        try {
          handlers.http({ ...request, body }).then(respond, internal);
        } catch {
          internal();
        }
      };
      if (!BODY_METHODS.has(request.method)) {
        dispatch(Buffer.alloc(0));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.onData((chunk, isLast) => {
        if (aborted) return;
        size += chunk.byteLength;
        if (size > handlers.maxBodyBytes) {
          aborted = true;
          res.cork(() => {
            res.writeStatus(statusLine(413)).writeHeader('content-type', 'application/json');
            res.end(TOO_LARGE_BODY, true);
          });
          return;
        }
        // uWS neuters the chunk when this callback returns, so copy it.
        chunks.push(Buffer.from(chunk.slice(0)));
        if (isLast) dispatch(Buffer.concat(chunks));
      });
    }

    return {
      name: 'uws',
      listen(host, port) {
        return new Promise<number>((resolve, reject) => {
          app.listen(host, port, (socket) => {
            if (!socket) {
              reject(new VigilError('WALL_TRANSPORT_UNAVAILABLE', `uWebSockets.js could not listen on ${host}:${port} (in use or not permitted)`));
              return;
            }
            listenSocket = socket;
            resolve(uws.us_socket_local_port(socket as unknown as Uws.us_socket));
          });
        });
      },
      async close() {
        if (listenSocket) uws.us_listen_socket_close(listenSocket);
        listenSocket = null;
        for (const ws of sockets) {
          const data = ws.getUserData();
          if (!data.closed) ws.end(1001, 'server shutting down');
        }
        // Let the close frames reach the peers before the remaining HTTP keep-alive sockets are cut.
        await new Promise((resolve) => setTimeout(resolve, 20));
        (app as { close?: () => void }).close?.();
      },
    };
  };
}

function wrap<C>(ws: Uws.WebSocket<SocketData<C>>, data: SocketData<C>): WallConnection<C> {
  return {
    context: data.context,
    send(text) {
      if (data.closed) return false;
      let status = 2;
      ws.cork(() => {
        status = ws.send(text, false, false);
      });
      // 0 = queued behind backpressure, 1 = written, 2 = dropped over maxBackpressure.
      return status !== 2;
    },
    bufferedAmount: () => (data.closed ? 0 : ws.getBufferedAmount()),
    close(code, reason) {
      if (!data.closed) ws.end(code, reason);
    },
  };
}

/** A connection handler that throws closes its socket (1011) instead of the process. */
function guarded<C>(ws: Uws.WebSocket<SocketData<C>>, data: SocketData<C>, run: () => void): void {
  try {
    run();
  } catch {
    if (!data.closed) ws.end(1011, 'internal error');
  }
}

/** The request as plain data; null when its target is malformed (a 400). */
function readRequest(req: Uws.HttpRequest): Omit<WallHttpRequest, 'body'> | null {
  const headers: Record<string, string> = {};
  req.forEach((key, value) => {
    headers[key] = value;
  });
  const query = req.getQuery();
  const target = parseRequestTarget(query ? `${req.getUrl()}?${query}` : req.getUrl());
  if (!target) return null;
  return { method: req.getMethod().toUpperCase(), path: target.path, query: target.query, headers };
}
