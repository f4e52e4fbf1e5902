// The wall's budget routes: a malformed batch is an answer with a reason; a budget's answer, sync or not, is passed on.
import { describe, expect, it } from 'vitest';
import { pressureRoutes } from './pressure.js';

const body = { customerIds: ['c1', 'c2'], channel: 'email' };

describe('pressureRoutes', () => {
  it('answers a malformed batch with the reason, without asking the budget', () => {
    let asked = 0;
    const routes = pressureRoutes(10, () => null, () => asked++);
    expect(routes.check({ channel: 'email' })).toEqual({ ok: false, reason: 'customerIds must be a non-empty array' });
    expect(routes.check('nonsense')).toMatchObject({ ok: false });
    expect(asked).toBe(0);
  });

  it('passes a synchronous budget’s answer on synchronously, and an asynchronous one’s as a promise', async () => {
    const sync = pressureRoutes(10, () => null, (req) => ({ allowed: req.customerIds }));
    expect(sync.check(body)).toEqual({ ok: true, result: { allowed: ['c1', 'c2'] } });
    const routed = pressureRoutes(10, () => null, async (req) => ({ allowed: req.customerIds.slice(1) }));
    await expect(routed.check(body)).resolves.toEqual({ ok: true, result: { allowed: ['c2'] } });
  });

  it('refuses a batch over the limit', () => {
    expect(pressureRoutes(1, () => null, () => ({})).check(body)).toMatchObject({ ok: false });
  });

  it('hands a customer lookup to the budget', () => {
    expect(pressureRoutes(10, (id) => ({ id }), () => ({})).customer('c9')).toEqual({ id: 'c9' });
  });
});
