// Waiting on a condition, never on the clock: tests poll until a state holds, with a generous deadline.

/** Waits until `check` holds, polling every 20 ms (the poll's own pace, not a wait); fails with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
