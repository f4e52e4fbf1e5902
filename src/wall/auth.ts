// Who may do what on the wall: a presented token maps to a role; with no tokens configured the wall is open and everyone responds.
import { createHash, timingSafeEqual } from 'node:crypto';

export type Role = 'viewer' | 'responder';

export type AuthResult = { ok: true; role: Role } | { ok: false; status: 401; code: 'UNAUTHORIZED'; message: string };

export interface WallTokens {
  viewer: string[];
  responder: string[];
}

export type Authenticate = (presented: string | null) => AuthResult;

export function createAuthenticator(tokens: WallTokens): Authenticate {
  // Compared as SHA-256 digests with timingSafeEqual: equal lengths, and no early exit that leaks a token's prefix.
  const known = [
    ...tokens.responder.map((token) => ({ digest: digest(token), role: 'responder' as const })),
    ...tokens.viewer.map((token) => ({ digest: digest(token), role: 'viewer' as const })),
  ];
  if (known.length === 0) return () => ({ ok: true, role: 'responder' });
  return (presented) => {
    if (!presented) return { ok: false, status: 401, code: 'UNAUTHORIZED', message: 'a token is required: Authorization: Bearer <token> (on /ws also ?token=<token>)' };
    const candidate = digest(presented);
    let role: Role | null = null;
    for (const entry of known) {
      // Responders are listed first, so a token configured for both roles gets the stronger one.
      if (timingSafeEqual(entry.digest, candidate) && role === null) role = entry.role;
    }
    return role ? { ok: true, role } : { ok: false, status: 401, code: 'UNAUTHORIZED', message: 'the token is not valid for this wall' };
  };
}

/**
 * The token a request presents: `Authorization: Bearer <token>`, or `?token=` when a query is passed, which only the
 * `/ws` upgrade does (a browser WebSocket cannot set headers; anywhere else a token in a URL ends up in logs and
 * histories). The header wins over the query.
 */
export function presentedToken(headers: Record<string, string>, wsQuery?: URLSearchParams): string | null {
  const header = headers['authorization'];
  if (header) {
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (match) return match[1].trim();
  }
  const fromQuery = wsQuery?.get('token');
  return fromQuery ? fromQuery : null;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
