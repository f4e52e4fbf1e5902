// For tests of work spread over turns of the event loop: how many turns went by while it ran, and a hook at each.

/**
 * Runs `work` while an immediate re-arms itself at every turn of the event loop; returns how many turns went by.
 * `onTurn` runs at each, with its number (from 1): a test changes state there, between two slices of the work.
 */
export async function turnsDuring(work: () => Promise<unknown>, onTurn?: (turn: number) => void): Promise<number> {
  let turns = 0;
  let on = true;
  const tick = () => {
    if (!on) return;
    turns++;
    onTurn?.(turns);
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    await work();
  } finally {
    on = false;
  }
  return turns;
}
