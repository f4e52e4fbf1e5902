// The wall's HTTP surface: the page and its assets, health, metrics, the snapshot API, acknowledgements and silences.
import type { PressureApi, PressureOutcome, WallSource } from '../contract/frames.js';
import { idProblem } from '../contract/ids.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { ExportOutcome } from '../privacy/export.js';
import { acknowledgeAlert } from './ack.js';
import { createAuthenticator, presentedToken, type Authenticate, type Role } from './auth.js';
import type { StaticAsset, WallAssets } from './assets.js';
import { hostAllowed, isJsonContentType, isStateChanging, originAllowed, type HostPolicy } from './edgePolicy.js';
import { DEFAULT_ACK_BY, parseBy, parseSilenceInput } from './protocol.js';
import { addSilence, expireSilence } from './silenceCommands.js';
import { shapeFrame } from './shape.js';
import type { WallHttpRequest, WallHttpResponse } from './transport/types.js';

export interface HttpRoutesOptions extends EdgeOptions {
  source: WallSource;
  logger: Logger;
  assets: () => WallAssets;
  atRiskListSize: number;
  wsPath: string;
  /** A silence's default startsAt; the real clock by default. */
  clock?: Clock;
  /**
   * A customer's export (`GET /api/v1/customers/{id}/export`, docs/privacy.md): starts one for the original id and
   * who asked. Absent: the route answers 503, export not configured.
   */
  exporter?: (customerId: string, requestedBy: string) => Promise<ExportOutcome>;
  /** wall.privacyTokens: tokens that may ask for exports and nothing else. */
  privacyTokens?: readonly string[];
}

const ACK_PATH = /^\/api\/v1\/alerts\/([^/]+)\/ack$/;
const SILENCES_PATH = '/api/v1/silences';
const SILENCE_PATH = /^\/api\/v1\/silences\/([^/]+)$/;
const PRESSURE_PATH = /^\/api\/v1\/customers\/([^/]+)\/pressure$/;
export const PRESSURE_CHECK_PATH = '/api/v1/pressure/check';
const EXPORT_PATH = /^\/api\/v1\/customers\/([^/]+)\/export$/;
const ID_RULE = 'the customer id must be 1..128 characters of valid URL encoding, well-formed Unicode without control characters';

/** The page's URL may carry its token (for the WebSocket): never leak it to another site through Referer. */
const BASE_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

export function createHttpRoutes(options: HttpRoutesOptions): (req: WallHttpRequest) => Promise<WallHttpResponse> {
  const { source, logger, authenticate } = options;
  const privacyTokens = options.privacyTokens ?? [];
  const privacyToken = privacyTokens.length > 0 ? createAuthenticator({ viewer: [], responder: [...privacyTokens] }) : null;

  /**
   * Who may export: a privacy token, or a responder. An open wall's visitors (all of them responders) may only on a
   * wall bound to loopback without privacy tokens: elsewhere only a real token counts. Returns who asked, or the response to send.
   */
  function authorizeExport(req: WallHttpRequest): string | WallHttpResponse {
    const presented = presentedToken(req.headers);
    if (privacyToken && presented && privacyToken(presented).ok) return 'privacy';
    const open = authenticate(null).ok;
    if (open && privacyToken) return errorResponse(401, 'UNAUTHORIZED', 'an export needs a privacy token (wall.privacyTokens) or a responder token', { 'www-authenticate': 'Bearer realm="vigil-wall"' });
    // A wall opened to the network (wall.allowOpen on a non-loopback host) shows the feed to anyone who reaches it,
    // but a customer's whole record is personal data: it needs a token there.
    if (open && !options.hosts.boundToLoopback) return errorResponse(401, 'UNAUTHORIZED', 'this wall is open to the network: an export needs a privacy token (wall.privacyTokens)', { 'www-authenticate': 'Bearer realm="vigil-wall"' });
    const role = authorize(req);
    if (typeof role !== 'string') return role;
    if (role !== 'responder') return errorResponse(403, 'FORBIDDEN', 'an export needs a responder or a privacy token');
    return 'responder';
  }

  const { refuse, authorize } = edgeChecks(options);
  const pressureRoute = source.pressure ? createPressureRoute({ pressure: source.pressure, logger, authorize, parse: parseJson }) : null;

  /** A customer's export: streamed as it is read; 410 with the record when the customer was erased. */
  async function exportRoute(req: WallHttpRequest, rawId: string): Promise<WallHttpResponse> {
    const who = authorizeExport(req);
    if (typeof who !== 'string') return who;
    if (req.method !== 'GET') return notAllowed('GET');
    if (!options.exporter) return errorResponse(503, 'UNAVAILABLE', 'export not configured: this processor was started without a customer export');
    const id = decodePathId(rawId);
    if (!validCustomerId(id)) return errorResponse(400, 'BAD_REQUEST', ID_RULE);
    const by = parseBy(req.query.get('by'));
    if (by === undefined) return errorResponse(400, 'BAD_REQUEST', '?by= (who asks, for the audit) must be 1..64 characters');
    let outcome: ExportOutcome;
    try {
      outcome = await options.exporter(id, by === null ? `http:${who}` : `http:${who}:${by}`);
    } catch (err) {
      logger.warn({ err: errorMessage(err) }, 'a customer export could not start');
      return errorResponse(503, 'UNAVAILABLE', 'the stores the export reads are unavailable; try again');
    }
    if (outcome.kind === 'refused') return json(410, outcome.document);
    return {
      status: 200,
      headers: { ...BASE_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-disposition': 'attachment; filename="vigil-export.json"' },
      stream: outcome.chunks,
    };
  }

  return async (req) => {
    const { method, path } = req;
    const isRead = method === 'GET' || method === 'HEAD';
    const refused = refuse(req);
    if (refused) return refused;

    if (path === '/' || path === '/index.html') return isRead ? staticResponse(options.assets().page) : notAllowed('GET');
    if (path.startsWith('/assets/')) {
      const asset = options.assets().files.get(path.slice('/assets/'.length));
      if (!asset) return errorResponse(404, 'NOT_FOUND', 'no such asset');
      return isRead ? staticResponse(asset) : notAllowed('GET');
    }
    if (path === '/healthz') {
      if (!isRead) return notAllowed('GET');
      const live = source.live();
      return json(live ? 200 : 503, { live });
    }
    if (path === '/readyz') {
      if (!isRead) return notAllowed('GET');
      const readiness = source.readiness();
      // The checks' details name hosts and carry error text: only for a valid token (or an open wall).
      const detailed = hostAllowed(req.headers['host'], options.hosts) && authenticate(presentedToken(req.headers)).ok;
      return json(readiness.ready ? 200 : 503, detailed ? readiness : { ready: readiness.ready });
    }
    if (path === options.wsPath) return errorResponse(426, 'UPGRADE_REQUIRED', `${path} speaks WebSocket only`, { upgrade: 'websocket' });

    const ackMatch = ACK_PATH.exec(path);
    const silenceMatch = SILENCE_PATH.exec(path);
    const exportMatch = EXPORT_PATH.exec(path);
    if (exportMatch) return exportRoute(req, exportMatch[1]);
    const pressure = pressureRoute?.(req);
    if (pressure) return pressure;
    const known = ackMatch !== null || silenceMatch !== null || path === SILENCES_PATH || path === '/metrics' || path === '/api/v1/snapshot';
    if (!known) return errorResponse(404, 'NOT_FOUND', 'no such route');

    const role = authorize(req);
    if (typeof role !== 'string') return role;

    if (path === '/metrics') {
      if (!isRead) return notAllowed('GET');
      try {
        const metrics = await source.metrics();
        return { status: 200, headers: { ...BASE_HEADERS, 'content-type': metrics.contentType }, body: metrics.body };
      } catch (err) {
        logger.error({ err: errorMessage(err) }, 'collecting metrics failed');
        return errorResponse(500, 'INTERNAL', 'metrics are unavailable');
      }
    }
    if (path === '/api/v1/snapshot') {
      if (!isRead) return notAllowed('GET');
      const snapshot = shapeFrame(source.snapshot(), options.atRiskListSize);
      return json(200, source.forRole ? source.forRole(snapshot, role) : snapshot);
    }

    if (path === SILENCES_PATH) {
      if (isRead) return json(200, { silences: source.listSilences() });
      if (method !== 'POST') return notAllowed('GET, POST');
      // The role first: a viewer learns nothing about what a valid body would be.
      if (role !== 'responder') return errorResponse(403, 'FORBIDDEN', 'silencing needs a responder token');
      const parsed = parseSilenceInput(parseJson(req.body), (options.clock ?? systemClock).now());
      if (!parsed.ok) return errorResponse(400, 'BAD_REQUEST', parsed.reason);
      const outcome = await addSilence(source, logger, role, parsed.input);
      if (!outcome.ok) return errorResponse(outcome.status, outcome.code, outcome.message);
      return json(201, { ok: true, silence: outcome.silence });
    }
    if (silenceMatch) {
      if (method !== 'DELETE') return notAllowed('DELETE');
      const id = decodePathId(silenceMatch[1]);
      if (id === null) return errorResponse(400, 'BAD_REQUEST', 'the silence id is not valid URL encoding');
      const outcome = await expireSilence(source, logger, role, id);
      if (!outcome.ok) return errorResponse(outcome.status, outcome.code, outcome.message);
      return json(200, { ok: true, id: outcome.id });
    }

    // Only the ack route is left.
    if (method !== 'POST') return notAllowed('POST');
    const alertId = decodePathId(ackMatch![1]);
    if (alertId === null) return errorResponse(400, 'BAD_REQUEST', 'the alert id is not valid URL encoding');
    const by = parseAckBody(req.body);
    if (by === undefined) return errorResponse(400, 'BAD_REQUEST', 'the body must be empty or JSON {"by"?: string of 1..64 characters}');
    const outcome = await acknowledgeAlert(source, logger, role, alertId, by ?? DEFAULT_ACK_BY);
    if (!outcome.ok) return errorResponse(outcome.status, outcome.code, outcome.message);
    return json(200, { ok: true, alertId: outcome.alertId, by: outcome.by });
  };
}

export interface EdgeOptions {
  authenticate: Authenticate;
  /** DNS rebinding: which Host headers are served. */
  hosts: HostPolicy;
  /** Origins besides the listener's own that may send state-changing requests. */
  allowedOrigins: readonly string[];
}

/**
 * What every request to one of the processor's HTTP listeners passes (the wall's, and the contact budget's own on
 * its thread: budget.httpPort): `refuse` is the edge, before any route (Host, then for state changes Origin and
 * content type; health checks skip the Host check, as probes name the pod's address, and say no more than live or
 * ready to a Host not served); `authorize` is the caller's role, or the 401 to send (only the bearer header counts
 * here: `?token=` is for /ws alone).
 */
export function edgeChecks(options: EdgeOptions): { refuse(req: WallHttpRequest): WallHttpResponse | null; authorize(req: WallHttpRequest): Role | WallHttpResponse } {
  return {
    refuse(req) {
      const probe = req.path === '/healthz' || req.path === '/readyz';
      if (!probe && !hostAllowed(req.headers['host'], options.hosts)) return errorResponse(421, 'MISDIRECTED_REQUEST', 'this wall does not serve that host name; see wall.allowedHosts');
      if (!isStateChanging(req.method)) return null;
      if (!originAllowed(req.headers['origin'], req.headers['host'], options.allowedOrigins)) return errorResponse(403, 'FORBIDDEN', 'cross-origin requests may not change state; see wall.allowedOrigins');
      if (req.body.length > 0 && !isJsonContentType(req.headers['content-type'])) return errorResponse(415, 'UNSUPPORTED_MEDIA_TYPE', 'a request body must be Content-Type: application/json');
      return null;
    },
    authorize(req) {
      const result = options.authenticate(presentedToken(req.headers));
      if (result.ok) return result.role;
      return errorResponse(result.status, result.code, result.message, { 'www-authenticate': 'Bearer realm="vigil-wall"' });
    },
  };
}

export interface PressureRouteOptions {
  pressure: PressureApi;
  logger: Logger;
  authorize: (req: WallHttpRequest) => Role | WallHttpResponse;
  /** A request body to JSON, or undefined when it is not JSON: the check then answers 400 with what a body must be. */
  parse: (body: Buffer) => unknown;
}

/**
 * The contact budget's two routes for senders, `GET /api/v1/customers/{id}/pressure` and `POST
 * /api/v1/pressure/check`, on the wall and on the budget's own listener (src/budget/budgetHttp.ts): the response, or
 * null for any other path. A check reserves slots, so only responders may ask.
 */
export function createPressureRoute(options: PressureRouteOptions): (req: WallHttpRequest) => Promise<WallHttpResponse> | null {
  const { pressure, logger, authorize } = options;
  const route = async (req: WallHttpRequest, pressureMatch: RegExpExecArray | null): Promise<WallHttpResponse> => {
    const role = authorize(req);
    if (typeof role !== 'string') return role;
    const { method } = req;
    if (pressureMatch && method !== 'GET' && method !== 'HEAD') return notAllowed('GET');
    if (!pressureMatch && method !== 'POST') return notAllowed('POST');
    if (role !== 'responder') return errorResponse(403, 'FORBIDDEN', 'the contact budget needs a responder token');
    if (pressureMatch) {
      const id = decodePathId(pressureMatch[1]);
      if (!validCustomerId(id)) return errorResponse(400, 'BAD_REQUEST', ID_RULE);
      try {
        return json(200, await pressure.customer(id));
      } catch (err) {
        logger.warn({ err: errorMessage(err) }, 'a pressure lookup failed');
        return errorResponse(503, 'UNAVAILABLE', 'the contact budget is unavailable; try again');
      }
    }
    let outcome: PressureOutcome;
    try {
      outcome = await pressure.check(options.parse(req.body));
    } catch (err) {
      // A cluster's partition without a holder for a moment (a hand-over): the sender retries.
      logger.warn({ err: errorMessage(err) }, 'a pressure check failed');
      return errorResponse(503, 'UNAVAILABLE', 'the contact budget is unavailable; try again');
    }
    return outcome.ok ? json(200, outcome.result) : errorResponse(400, 'BAD_REQUEST', outcome.reason);
  };
  return (req) => {
    const pressureMatch = PRESSURE_PATH.exec(req.path);
    return pressureMatch || req.path === PRESSURE_CHECK_PATH ? route(req, pressureMatch) : null;
  };
}

function validCustomerId(id: string | null): id is string {
  return id !== null && id.length > 0 && id.length <= 128 && idProblem(id) === null;
}

function decodePathId(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/** The parsed JSON body, or undefined when it is not JSON (the parser then says what is expected). */
function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** null: no `by` given; undefined: the body is invalid. */
function parseAckBody(body: Buffer): string | null | undefined {
  if (body.length === 0) return null;
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return parseBy((value as Record<string, unknown>).by);
}

function staticResponse(asset: StaticAsset): WallHttpResponse {
  // no-cache: screens revalidate after a deploy instead of running yesterday's page for days.
  return { status: 200, headers: { ...BASE_HEADERS, 'content-type': asset.contentType, 'cache-control': 'no-cache' }, body: asset.body };
}

function json(status: number, value: unknown): WallHttpResponse {
  return { status, headers: { ...BASE_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, body: JSON.stringify(value) };
}

export function errorResponse(status: number, code: string, message: string, headers: Record<string, string> = {}): WallHttpResponse {
  const response = json(status, { error: { code, message } });
  return { ...response, headers: { ...response.headers, ...headers } };
}

function notAllowed(allow: string): WallHttpResponse {
  return errorResponse(405, 'METHOD_NOT_ALLOWED', `use ${allow}`, { allow });
}
