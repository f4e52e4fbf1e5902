// Raw HTTP requests no well-behaved client would send, as fast-check arbitraries: for the hostile-client suites of the
// wall (wall.hostile.test.ts) and of the contact budget's own port (budgetThread.test.ts). Send them with rawExchange.
import fc from 'fast-check';

const HEADER_NAMES = ['host', 'origin', 'content-type', 'content-length', 'transfer-encoding', 'upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'authorization', 'expect', 'cookie'];

/**
 * A request line, headers and body built from the listener's routes and junk (broken encodings, lone surrogates,
 * control characters, lengths that lie, chunked framing gone wrong), or plain random bytes. `marker` appears in
 * targets and bodies: an error answer must never echo it.
 */
export function hostileHttpRequests(routes: readonly string[], marker: string): fc.Arbitrary<Buffer> {
  const junk = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('', ' ', '\r\n', '\u0000', '%', '%zz', '[', '//[', '..', '?', '#', 'ÿ', '\ud800'));
  const method = fc.oneof(fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'get', ''), fc.string({ maxLength: 12 }));
  const target = fc.oneof(
    fc.constantFrom(...routes, '//[', '/%', '*', 'http://x/', '//', '/ws?token=%', `/${marker}`, '/assets/../../package.json', '/api/v1/alerts/%E0%A4%A/ack', '/api/v1/customers/%E0%A4%A/pressure'),
    fc.tuple(fc.constantFrom(...routes), junk).map(([r, j]) => r + j),
    junk,
  );
  const version = fc.oneof(fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 extra', ''), fc.string({ maxLength: 10 }));
  const header = fc.tuple(fc.oneof(fc.constantFrom(...HEADER_NAMES), fc.string({ maxLength: 20 })), fc.oneof(junk, fc.constantFrom('websocket', 'Upgrade', 'chunked', 'application/json', 'text/plain', '13', '0', '99999999', '-1', 'null', 'https://evil.example', 'localhost', 'evil.example')));
  const body = fc.oneof(fc.constant(''), fc.json({ maxDepth: 3 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('0\r\n\r\n', 'zz\r\n', `{"matchers":[{"name":"${marker}"}]}`, `{"customerIds":["${marker}"],"channel":"${marker}"}`));
  return fc.oneof(
    { weight: 8, arbitrary: fc.tuple(method, target, version, fc.array(header, { maxLength: 8 }), body).map(([m, t, v, hs, b]) => Buffer.from(`${m} ${t} ${v}\r\n${hs.map(([k, val]) => `${k}: ${val}`).join('\r\n')}\r\n\r\n${b}`, 'utf8')) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  );
}
