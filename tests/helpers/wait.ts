// Waiting on a condition, never on the clock: tests poll until a state holds, with a generous deadline.

/** Waits until `check` holds, polling every 20 ms (the poll's own pace, not a wait); fails with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Lets work that fakes answer at once (promise chains, setImmediate) run to its end: `turns` turns of the event
 * loop, no clock time. For tests on the manual clock, between an `advance` and what it set off.
 */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}
