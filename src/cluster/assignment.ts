// Which processor should own each partition: a pure function of the live members, so every processor that sees the
// same members wants the same owners without talking to the others (docs/scale-out.md, section 2).
import { avalanche, FNV_OFFSET, FNV_PRIME } from '../shared/hash.js';

/** A 32-bit score of a (partition, member) pair: FNV-1a of both, then an avalanche, so small changes spread. */
function score(partition: number, member: string): number {
  let h = FNV_OFFSET;
  const key = `${partition}\u0000${member}`;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), FNV_PRIME);
  return avalanche(h);
}

/**
 * The wanted owner of each partition 0..partitions-1: rendezvous hashing with bounded loads. Every (partition,
 * member) pair has a score; pairs are taken best first, and a member takes a partition while it holds fewer than
 * ⌊N/m⌋, or ⌊N/m⌋ while some of the N mod m extra places are left. So each member gets ⌊N/m⌋ or ⌈N/m⌉ partitions,
 * and a member joining or leaving moves few partitions besides its own: a pair's score does not depend on the
 * other members (round robin, k mod m, would move most of them). Duplicates are ignored; no members: an empty map.
 */
export function assign(members: string[], partitions: number): Map<number, string> {
  if (!Number.isInteger(partitions) || partitions < 0) throw new RangeError(`partitions must be an integer ≥ 0, got ${partitions}`);
  const unique = [...new Set(members)].sort();
  const out = new Map<number, string>();
  const m = unique.length;
  if (m === 0) return out;
  const floor = Math.floor(partitions / m);
  let extras = partitions % m;
  const pairs: { p: number; i: number; s: number }[] = [];
  for (let p = 0; p < partitions; p++) for (let i = 0; i < m; i++) pairs.push({ p, i, s: score(p, unique[i]) });
  // Ties (vanishingly rare) are broken by partition, then member id: the same order on every processor.
  pairs.sort((a, b) => b.s - a.s || a.p - b.p || a.i - b.i);
  const load = new Array<number>(m).fill(0);
  for (const { p, i } of pairs) {
    if (out.has(p)) continue;
    if (load[i] < floor) load[i]++;
    else if (load[i] === floor && extras > 0) {
      load[i]++;
      extras--;
    } else continue;
    out.set(p, unique[i]);
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}
