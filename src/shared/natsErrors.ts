// NATS errors recognised by the server's JetStream error code (nats-server's errors.json), never by message text:
// the one place that knows which codes mean "not there", so a reworded message cannot turn a miss into a crash.
import type { ApiError } from 'nats';

/** JetStream API error codes (`err_code`) this project acts on; names as in nats-server's errors.json. */
export const JS_ERR = {
  /** JSNoMessageFoundErr: "no message found" (a get of a sequence or subject with nothing stored). */
  noMessageFound: 10037,
  /** JSSequenceNotFoundErrF: "sequence {seq} not found" (a delete of a sequence already deleted). */
  sequenceNotFound: 10043,
  /** JSStreamMsgDeleteFailedF: "{err}", the store's own error (a delete of a purged or expired sequence, a denied delete). */
  streamMsgDeleteFailed: 10057,
  /** JSStreamNotFoundErr: "stream not found". */
  streamNotFound: 10059,
  /** JSStreamWrongLastSequenceErrF: "wrong last sequence: {seq}" (an expected-revision write refused: KV create/update). */
  streamWrongLastSequence: 10071,
} as const;

/**
 * The store's ErrStoreMsgNotFound, which nats-server puts verbatim into a 10057 answer: the one case where the code
 * alone does not say "gone" (10057 also carries "message delete not permitted"), so the server's constant is compared
 * exactly, and only under that code.
 */
const STORE_MSG_NOT_FOUND = 'no message found';

/** The JetStream API error nats.js attaches to a NatsError (`api_error`), or null for any other error. */
export function jsApiError(err: unknown): ApiError | null {
  if (typeof err !== 'object' || err === null) return null;
  const e = (err as { api_error?: unknown }).api_error;
  if (typeof e !== 'object' || e === null) return null;
  const a = e as Partial<ApiError>;
  return typeof a.code === 'number' ? (a as ApiError) : null;
}

/** The JetStream error code of err, or null when it carries none. */
export function jsErrCode(err: unknown): number | null {
  const code = jsApiError(err)?.err_code;
  return typeof code === 'number' ? code : null;
}

/** The stream asked about does not exist (info, update, delete of a message). */
export function isStreamNotFound(err: unknown): boolean {
  return jsErrCode(err) === JS_ERR.streamNotFound;
}

/**
 * A message get found nothing: the API's 10037, or a direct get's 404 status (a direct get answers with a status
 * header only, so nats.js builds a NatsError with code '404' and no api_error).
 */
export function isNoMessageFound(err: unknown): boolean {
  if (jsErrCode(err) === JS_ERR.noMessageFound) return true;
  return jsApiError(err) === null && typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '404';
}

/** A write with an expected last sequence was refused: for a KV key, someone else wrote it or it expired. */
export function isWrongLastSequence(err: unknown): boolean {
  return jsErrCode(err) === JS_ERR.streamWrongLastSequence;
}

/**
 * A message delete found nothing to delete: the sequence was deleted already (10043), purged or expired (10057 with
 * the store's "no message found"), or the stream itself is gone (10059). A sequence past the stream's last ("stream
 * store EOF") and a denied delete are not: they are errors.
 */
export function isMessageGone(err: unknown): boolean {
  const code = jsErrCode(err);
  if (code === JS_ERR.sequenceNotFound || code === JS_ERR.streamNotFound) return true;
  return code === JS_ERR.streamMsgDeleteFailed && jsApiError(err)?.description.toLowerCase() === STORE_MSG_NOT_FOUND;
}
