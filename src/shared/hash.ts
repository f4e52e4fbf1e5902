// 32-bit hashing without allocation, shared by the id table, the minute buckets' index and partition assignment.

/** FNV-1a's offset basis and prime: fold a byte or a UTF-16 unit in with `Math.imul(h ^ unit, FNV_PRIME)`. */
export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/** murmur3's finaliser: every bit of the result depends on every bit of `h` (FNV alone leaves the low bits weak). */
export function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
