// Token to role: open when no token is configured, responder beats viewer, the bearer header beats the query.
import { describe, expect, it } from 'vitest';
import { createAuthenticator, presentedToken } from './auth.js';

describe('createAuthenticator', () => {
  it('makes everyone a responder on an open wall', () => {
    expect(createAuthenticator({ viewer: [], responder: [] })(null)).toEqual({ ok: true, role: 'responder' });
  });

  it('maps each configured token to its role and refuses the rest', () => {
    const authenticate = createAuthenticator({ viewer: ['viewer-token'], responder: ['responder-token'] });
    expect(authenticate('viewer-token')).toEqual({ ok: true, role: 'viewer' });
    expect(authenticate('responder-token')).toEqual({ ok: true, role: 'responder' });
    expect(authenticate('responder-token-but-longer')).toMatchObject({ ok: false, status: 401 });
    expect(authenticate(null)).toMatchObject({ ok: false, status: 401, code: 'UNAUTHORIZED' });
  });

  it('gives a token listed for both roles the responder role', () => {
    expect(createAuthenticator({ viewer: ['shared-token'], responder: ['shared-token'] })('shared-token')).toEqual({ ok: true, role: 'responder' });
  });
});

describe('presentedToken', () => {
  it('reads the bearer header first, then ?token=', () => {
    expect(presentedToken({ authorization: 'Bearer from-header' }, new URLSearchParams('token=from-query'))).toBe('from-header');
    expect(presentedToken({ authorization: 'bearer   spaced ' }, new URLSearchParams())).toBe('spaced');
    expect(presentedToken({}, new URLSearchParams('token=from-query'))).toBe('from-query');
    expect(presentedToken({ authorization: 'Basic abc' }, new URLSearchParams())).toBeNull();
    expect(presentedToken({}, new URLSearchParams('token='))).toBeNull();
  });

  it('ignores ?token= unless the caller passes the query (only the /ws upgrade does)', () => {
    expect(presentedToken({})).toBeNull();
    expect(presentedToken({ authorization: 'Bearer from-header' })).toBe('from-header');
  });
});
