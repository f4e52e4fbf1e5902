// One path for silencing and expiring from the HTTP API and the WebSocket: role check, then the source; outcomes are values.
import type { Silence, SilenceInput, WallSource } from '../contract/frames.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Role } from './auth.js';
import type { WallErrorCode } from './protocol.js';

type Failure = { ok: false; status: 400 | 403 | 404 | 500; code: WallErrorCode; message: string };
export type SilenceOutcome = { ok: true; silence: Silence } | Failure;
export type ExpireOutcome = { ok: true; id: string } | Failure;

export async function addSilence(source: WallSource, logger: Logger, role: Role, input: SilenceInput): Promise<SilenceOutcome> {
  if (role !== 'responder') return { ok: false, status: 403, code: 'FORBIDDEN', message: 'silencing needs a responder token' };
  try {
    const result = await source.addSilence(input);
    if (!result.ok) return { ok: false, status: 400, code: 'BAD_REQUEST', message: result.error };
    // The silence as stored, not as sent: under pseudonymization only the stored one is free of original ids.
    logger.info({ silenceId: result.silence.id, matchers: result.silence.matchers, endsAt: input.endsAt, by: input.createdBy }, 'silence added from the wall');
    return { ok: true, silence: result.silence };
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'adding a silence failed');
    return { ok: false, status: 500, code: 'INTERNAL', message: 'the silence could not be stored; try again' };
  }
}

export async function expireSilence(source: WallSource, logger: Logger, role: Role, id: string): Promise<ExpireOutcome> {
  if (role !== 'responder') return { ok: false, status: 403, code: 'FORBIDDEN', message: 'expiring a silence needs a responder token' };
  try {
    if (!(await source.expireSilence(id))) return { ok: false, status: 404, code: 'NOT_FOUND', message: 'no such silence' };
    logger.info({ silenceId: id }, 'silence expired from the wall');
    return { ok: true, id };
  } catch (err) {
    logger.error({ silenceId: id, err: errorMessage(err) }, 'expiring a silence failed');
    return { ok: false, status: 500, code: 'INTERNAL', message: 'the silence could not be expired; try again' };
  }
}
