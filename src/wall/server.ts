// The live operations wall: one port for the page, its WebSocket, health, metrics and the small HTTP API.
// Composes auth, the client hub and the HTTP routes over whichever transport was selected.
import type { Histogram } from '../shared/histogram.js';
import type { VigilConfig } from '../config/schema.js';
import type { WallSource } from '../contract/frames.js';
import type { SchedulingClock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { loadWallAssets, type WallAssets } from './assets.js';
import { createAuthenticator, presentedToken } from './auth.js';
import { ClientHub, type ClientContext } from './clientHub.js';
import { hostAllowed, isLoopbackAddress, originAllowed, type HostPolicy } from './edgePolicy.js';
import { createHttpRoutes, type HttpRoutesOptions } from './httpRoutes.js';
import { selectTransport, type SelectedTransport } from './transport/select.js';
import type { TransportName, UpgradeDecision, WallTransport, WallUpgradeRequest } from './transport/types.js';

export interface WallServerOptions {
  config: VigilConfig['wall'];
  source: WallSource;
  logger: Logger;
  /** A transport chosen by the caller; by default `selectTransport(config.transport)`. */
  transport?: SelectedTransport;
  /** The time and timers the hub paces frames and rate-limits commands by; the real clock by default. */
  clock?: SchedulingClock;
  /** Customer exports (`GET /api/v1/customers/{id}/export`); absent, the route answers 503 (privacy/export.ts: customerExporter). */
  exporter?: HttpRoutesOptions['exporter'];
}

export interface WallServer {
  /** Loads the page, subscribes to the source and binds; resolves with the bound port (config port 0 picks a free one). */
  listen(): Promise<number>;
  /** Closes every WebSocket (1001), stops listening and unsubscribes. */
  close(): Promise<void>;
  readonly transportName: TransportName;
  clientCount(): number;
  /** The time each frame flush to every client took. */
  readonly fanoutDurations: Histogram;
}

const WS_PATH = '/ws';
const MAX_BODY_BYTES = 16 * 1024;
const MAX_CLIENT_MESSAGE_BYTES = 16 * 1024;
/** Headroom over maxBufferedBytes before the library itself drops a message: the hub skips a slow client long before. */
const LIBRARY_BACKPRESSURE_HEADROOM = 16 * 1024 * 1024;

export function createWallServer(options: WallServerOptions): WallServer {
  const { config, source } = options;
  const logger = options.logger.child({ stage: 'wall' });
  const selected = options.transport ?? selectTransport(config.transport, logger);
  const authenticate = createAuthenticator(config.tokens);
  const hosts: HostPolicy = { boundToLoopback: isLoopbackAddress(config.host), allowedHosts: config.allowedHosts.map((h) => h.trim().toLowerCase()) };
  const open = config.tokens.viewer.length + config.tokens.responder.length === 0;
  const hub = new ClientHub({
    source,
    logger,
    frameIntervalMs: config.frameIntervalMs,
    alertIntervalMs: config.alertFrameIntervalMs,
    maxBufferedBytes: config.maxBufferedBytes,
    atRiskListSize: config.atRiskListSize,
    maxMessagesPerSecond: config.maxMessagesPerSecond,
    clock: options.clock,
  });
  let assets: WallAssets | null = null;
  const routes = createHttpRoutes({
    source,
    logger,
    authenticate,
    assets: () => {
      if (!assets) throw new Error('wall assets are not loaded; call listen() first');
      return assets;
    },
    atRiskListSize: config.atRiskListSize,
    wsPath: WS_PATH,
    hosts,
    allowedOrigins: config.allowedOrigins,
    clock: options.clock,
    exporter: options.exporter,
    privacyTokens: config.privacyTokens,
  });

  /** Host, Origin (cross-site WebSocket hijacking), the connection cap, then the token (here `?token=` counts). */
  function decideUpgrade(req: WallUpgradeRequest): UpgradeDecision<ClientContext> {
    const refuse = (status: number, code: string, message: string, headers: Record<string, string> = {}): UpgradeDecision<ClientContext> => ({
      accept: false,
      status,
      body: JSON.stringify({ error: { code, message } }),
      headers: { 'content-type': 'application/json', ...headers },
    });
    if (!hostAllowed(req.headers['host'], hosts)) return refuse(421, 'MISDIRECTED_REQUEST', 'this wall does not serve that host name; see wall.allowedHosts');
    if (!originAllowed(req.headers['origin'], req.headers['host'], config.allowedOrigins)) return refuse(403, 'FORBIDDEN', 'this origin may not open the wall; see wall.allowedOrigins');
    if (hub.size >= config.maxConnections) return refuse(503, 'UNAVAILABLE', 'the wall has as many clients as it takes; try again later', { 'retry-after': '5' });
    const result = authenticate(presentedToken(req.headers, req.query));
    if (!result.ok) return refuse(result.status, result.code, result.message);
    return { accept: true, context: { role: result.role } };
  }

  let transport: WallTransport | null = null;

  return {
    transportName: selected.name,
    clientCount: () => hub.size,
    fanoutDurations: hub.fanoutDurations,
    async listen() {
      if (transport) throw new Error('the wall is already listening');
      assets = await loadWallAssets();
      transport = selected.factory<ClientContext>(
        {
          wsPath: WS_PATH,
          maxBodyBytes: MAX_BODY_BYTES,
          http: routes,
          upgrade: decideUpgrade,
          open: (conn) => hub.open(conn),
          message: (conn, text) => hub.message(conn, text),
          close: (conn) => hub.close(conn),
        },
        { maxMessageBytes: MAX_CLIENT_MESSAGE_BYTES, maxBackpressureBytes: config.maxBufferedBytes + LIBRARY_BACKPRESSURE_HEADROOM },
      );
      hub.start();
      try {
        const port = await transport.listen(config.host, config.port);
        logger.info({ host: config.host, port, transport: selected.name, pageDir: assets.pageDir, tokensRequired: !open }, 'wall listening');
        if (open && !hosts.boundToLoopback) {
          logger.warn({ host: config.host, port }, 'the wall is OPEN on a non-loopback address (wall.allowOpen): anyone who reaches it can acknowledge and silence; set wall.tokens');
        }
        return port;
      } catch (err) {
        hub.stop();
        transport = null;
        throw err;
      }
    },
    async close() {
      const closing = transport;
      transport = null;
      hub.stop();
      if (closing) await closing.close();
    },
  };
}
