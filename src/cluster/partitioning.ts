// Which partition a customer's events land in: the customer token producers put in the subject, and the NATS
// server's partition() mapping reproduced here, so routing and checks agree with the server to the bit.
import { createHash } from 'node:crypto';

/** A customer id that may stand in a subject as it is: one token of subject-safe characters. */
const SUBJECT_SAFE = /^[A-Za-z0-9_-]{1,128}$/;
const PARTITION_INDEX = /^(0|[1-9][0-9]*)$/;

/** The subject token of a customer: the id itself when subject-safe, else `h` + 22 characters of its base64url SHA-256. */
export function customerToken(id: string): string {
  if (SUBJECT_SAFE.test(id)) return id;
  return `h${createHash('sha256').update(id, 'utf8').digest('base64url').slice(0, 22)}`;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const utf8 = new TextEncoder();

/** FNV-1a (32 bits) of the token's UTF-8 bytes modulo `partitions`: what the server's `{{partition(N,k)}}` gives for one token. */
export function partitionOf(token: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be an integer ≥ 1, got ${partitions}`);
  let hash = FNV_OFFSET;
  for (const byte of utf8.encode(token)) hash = Math.imul(hash ^ byte, FNV_PRIME) >>> 0;
  return hash % partitions;
}

/**
 * The server-side subject mapping that partitions `<prefix>.<type>.<customerToken>` by the token into `partitions`:
 * [the subjects producers publish on, where the server puts them: `<prefix>.part.<k>.<type>.<customerToken>`].
 */
export function natsMapping(prefix: string, partitions: number): readonly [source: string, destination: string] {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be an integer ≥ 1, got ${partitions}`);
  return [`${prefix}.*.*`, `${prefix}.part.{{partition(${partitions},2)}}.{{wildcard(1)}}.{{wildcard(2)}}`];
}

export type EventSubject =
  /** `<prefix>.part.<k>.<type>.<token>`: mapped by the server into partition k. */
  | { kind: 'partitioned'; partition: number; type: string; token: string }
  /** `<prefix>.<type>`: no customer token (the single-processor contract). */
  | { kind: 'legacy'; type: string }
  /** `<prefix>.<type>.<token>` as published: it reached the stream without the server's mapping. */
  | { kind: 'unmapped'; type: string; token: string }
  | { kind: 'invalid' };

/** What an event subject says about its partition; structure only (the type and token are not validated here). */
export function parseEventSubject(subject: string, prefix: string): EventSubject {
  if (!subject.startsWith(`${prefix}.`)) return { kind: 'invalid' };
  const tokens = subject.slice(prefix.length + 1).split('.');
  if (tokens.some((t) => t === '')) return { kind: 'invalid' };
  if (tokens.length === 1) return { kind: 'legacy', type: tokens[0] };
  if (tokens.length === 2) return { kind: 'unmapped', type: tokens[0], token: tokens[1] };
  if (tokens.length === 4 && tokens[0] === 'part' && PARTITION_INDEX.test(tokens[1])) {
    return { kind: 'partitioned', partition: Number(tokens[1]), type: tokens[2], token: tokens[3] };
  }
  return { kind: 'invalid' };
}
