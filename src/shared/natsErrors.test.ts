// NATS errors recognised by code: each error built by nats.js's own functions, as its JetStream client builds it
// from a server answer (tests/integration/natsErrors.test.ts provokes the same errors from the real server).
import { checkJsError, headers, NatsError, type ApiError, type Msg } from 'nats';
import { describe, expect, it } from 'vitest';
import { isMessageGone, isNoMessageFound, isStreamNotFound, isWrongLastSequence, JS_ERR, jsErrCode } from './natsErrors.js';

/** As nats.js's parseJsResponse does: the error for the answer's status, with the server's ApiError attached. */
function apiError(error: ApiError): NatsError {
  const err = checkJsError({ data: new Uint8Array(), headers: headers(error.code, error.description) } as unknown as Msg);
  if (err === null) throw new Error('nats.js built no error');
  return Object.assign(err, { api_error: error });
}

/** As nats.js's KV put does on a refused write: message and code replaced from the ApiError, which stays attached. */
function kvWriteError(error: ApiError): NatsError {
  const err = apiError(error);
  err.message = error.description;
  (err as { code: string }).code = `${error.code}`;
  return err;
}

/** A direct get's status-only answer: no ApiError. */
function directGet(code: number, description: string): NatsError {
  const err = checkJsError({ data: new Uint8Array(), headers: headers(code, description) } as unknown as Msg);
  if (err === null) throw new Error('nats.js built no error');
  return err;
}

// The answers nats-server 2.9.10 gave (captured with nats.js 2.29 against the test server).
const streamNotFound = apiError({ code: 404, err_code: 10059, description: 'stream not found' });
const noMessageFound = apiError({ code: 404, err_code: 10037, description: 'no message found' });
const sequenceNotFound = apiError({ code: 400, err_code: 10043, description: 'sequence 2 not found' });
const deletePurged = apiError({ code: 500, err_code: 10057, description: 'no message found' });
const deletePastLast = apiError({ code: 500, err_code: 10057, description: 'stream store EOF' });
const deleteDenied = apiError({ code: 500, err_code: 10057, description: 'message delete not permitted' });
const consumerNotFound = apiError({ code: 404, err_code: 10014, description: 'consumer not found' });
const wrongLastSequence = kvWriteError({ code: 400, err_code: 10071, description: 'wrong last sequence: 1' });
const directMiss = directGet(404, 'Message Not Found');
const timeout = NatsError.errorForCode('TIMEOUT');

describe('NATS errors by code', () => {
  it('reads the JetStream code nats.js attaches, and none from other errors', () => {
    expect(streamNotFound).toBeInstanceOf(NatsError);
    expect(jsErrCode(streamNotFound)).toBe(JS_ERR.streamNotFound);
    expect(jsErrCode(wrongLastSequence)).toBe(JS_ERR.streamWrongLastSequence);
    for (const other of [timeout, directMiss, new Error('stream not found'), 'stream not found', null, undefined, { api_error: 'x' }, { api_error: { err_code: 10059 } }]) {
      expect(jsErrCode(other)).toBeNull();
    }
  });

  it('a missing stream is its code, not its words', () => {
    expect(isStreamNotFound(streamNotFound)).toBe(true);
    expect(isStreamNotFound(apiError({ code: 404, err_code: 10059, description: 'the stream is elsewhere' }))).toBe(true);
    for (const other of [consumerNotFound, noMessageFound, timeout, new Error('stream not found')]) expect(isStreamNotFound(other)).toBe(false);
  });

  it('a get that found nothing: the API answer or a direct get 404', () => {
    expect(isNoMessageFound(noMessageFound)).toBe(true);
    expect(isNoMessageFound(directMiss)).toBe(true);
    for (const other of [streamNotFound, consumerNotFound, deletePurged, timeout, new Error('no message found')]) expect(isNoMessageFound(other)).toBe(false);
  });

  it('a refused expected-revision write, with the code nats.js rewrites on KV writes', () => {
    expect(wrongLastSequence.code).toBe('400');
    expect(isWrongLastSequence(wrongLastSequence)).toBe(true);
    for (const other of [streamNotFound, sequenceNotFound, timeout, new Error('wrong last sequence: 0')]) expect(isWrongLastSequence(other)).toBe(false);
  });

  it('a delete with nothing to delete: deleted, purged or expired, or no stream; not past the end, not denied', () => {
    for (const gone of [sequenceNotFound, deletePurged, streamNotFound]) expect(isMessageGone(gone)).toBe(true);
    for (const other of [deletePastLast, deleteDenied, consumerNotFound, noMessageFound, timeout, new Error('sequence 2 not found')]) expect(isMessageGone(other)).toBe(false);
  });
});
