// The contact budget's own HTTP listener (budget.httpPort), on the budget's thread: the wall's two budget routes,
// `POST /api/v1/pressure/check` and `GET /api/v1/customers/{id}/pressure`, answered where the decisions are made. On
// the wall's port the same routes are read, forwarded and answered by the processor's event loop, so a sender waits
// for two of its turns among the events (p99 ~0.6 s in the full benchmark); here only for the thread's other answers.
// The wall's edge and tokens hold as they are: its host (bind address), Host names, origins and responder tokens.
// Always `ws`'s node:http, whatever wall.transport says: uWebSockets.js's native handles outlive a thread that dies and
// abort the whole process (src/threads.ts), and the budget's thread is started again when it dies.
import type { VigilConfig } from '../config/schema.js';
import type { PressureApi } from '../contract/frames.js';
import type { Logger } from '../shared/logger.js';
import { createAuthenticator } from '../wall/auth.js';
import { isLoopbackAddress } from '../wall/edgePolicy.js';
import { createPressureRoute, edgeChecks, errorResponse, PRESSURE_CHECK_PATH, type EdgeOptions } from '../wall/httpRoutes.js';
import { createWsTransport } from '../wall/transport/ws.js';
import type { WallHttpRequest, WallHttpResponse, WallTransport } from '../wall/transport/types.js';
import { parseBody } from './requests.js';

/**
 * Bytes a request body may carry: what NATS takes in one request by default (its max_payload, 1 MiB), room for a
 * batch of budget.maxBatch ids (10,000 of ~40 bytes by default). The wall's port takes 16 KiB.
 */
export const BUDGET_HTTP_MAX_BODY_BYTES = 1024 * 1024;

const NOT_HERE = 'this port serves the contact budget only: POST /api/v1/pressure/check and GET /api/v1/customers/{id}/pressure';

/**
 * The listener's routes: the edge, `/healthz`, the two budget routes; anything else 404. `observe` is told how long
 * each `POST /api/v1/pressure/check` took, from the request read to the response (vigil_budget_check_duration_seconds,
 * endpoint http).
 */
export function createBudgetRoutes(options: EdgeOptions & { pressure: PressureApi; logger: Logger; observe?: (ms: number) => void }): (req: WallHttpRequest) => Promise<WallHttpResponse> {
  const { refuse, authorize } = edgeChecks(options);
  // The NATS service's parsing: invalid UTF-8 and deep nesting are refused before JSON.parse sees a 1 MiB body.
  const route = createPressureRoute({ pressure: options.pressure, logger: options.logger, authorize, parse: (body) => {
    const parsed = parseBody(body);
    return parsed.ok ? parsed.value : undefined;
  } });
  return async (req) => {
    const refused = refuse(req);
    if (refused) return refused;
    if (req.path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return errorResponse(405, 'METHOD_NOT_ALLOWED', 'use GET', { allow: 'GET' });
      return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, body: '{"live":true}' };
    }
    const started = performance.now();
    const answer = route(req);
    if (!answer) return errorResponse(404, 'NOT_FOUND', NOT_HERE);
    try {
      return await answer;
    } finally {
      if (req.path === PRESSURE_CHECK_PATH) options.observe?.(performance.now() - started);
    }
  };
}

/** Binds the listener on wall.host:budget.httpPort; resolves with it listening and its port (0 picks a free one). */
export async function startBudgetHttp(config: VigilConfig, pressure: PressureApi, logger: Logger, observe?: (ms: number) => void): Promise<{ port: number; transport: WallTransport }> {
  const wall = config.wall;
  const routes = createBudgetRoutes({
    pressure,
    logger,
    observe,
    authenticate: createAuthenticator(wall.tokens),
    hosts: { boundToLoopback: isLoopbackAddress(wall.host), allowedHosts: wall.allowedHosts.map((h) => h.trim().toLowerCase()) },
    allowedOrigins: wall.allowedOrigins,
  });
  const transport = createWsTransport<null>(
    {
      // No WebSocket here: every upgrade is refused (the path matches none).
      wsPath: '\0',
      maxBodyBytes: BUDGET_HTTP_MAX_BODY_BYTES,
      http: routes,
      upgrade: () => ({ accept: false, status: 404, body: '' }),
      open: () => undefined,
      message: () => undefined,
      close: () => undefined,
    },
    { maxMessageBytes: 0, maxBackpressureBytes: 0, maxConnections: config.budget.httpMaxConnections },
  );
  const port = await transport.listen(wall.host, config.budget.httpPort!);
  logger.info({ host: wall.host, port }, 'the contact budget listens on a port of its own');
  return { port, transport };
}
