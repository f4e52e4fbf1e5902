// One acknowledgement path for the HTTP API and the WebSocket: role check, then the source; the outcome is a value.
import type { WallSource } from '../contract/frames.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Role } from './auth.js';
import type { WallErrorCode } from './protocol.js';

export type AckOutcome = { ok: true; alertId: string; by: string } | { ok: false; status: 403 | 404 | 500; code: WallErrorCode; message: string };

export async function acknowledgeAlert(source: WallSource, logger: Logger, role: Role, alertId: string, by: string): Promise<AckOutcome> {
  if (role !== 'responder') return { ok: false, status: 403, code: 'FORBIDDEN', message: 'acknowledging needs a responder token' };
  try {
    const found = await source.acknowledge(alertId, by);
    if (!found) return { ok: false, status: 404, code: 'NOT_FOUND', message: 'no such alert' };
    logger.info({ alertId, by }, 'alert acknowledged from the wall');
    return { ok: true, alertId, by };
  } catch (err) {
    logger.error({ alertId, err: errorMessage(err) }, 'acknowledging an alert failed');
    return { ok: false, status: 500, code: 'INTERNAL', message: 'the acknowledgement could not be stored; try again' };
  }
}
