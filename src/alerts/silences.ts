// Silences, as Alertmanager has them: label matchers over a time range, with who made it and why.
import { randomUUID } from 'node:crypto';
import type { Matcher, Silence, SilenceInput } from '../contract/frames.js';

export type { Matcher, Silence, SilenceInput };

/** Why a silence cannot be made, or null when it is fine. */
export function validateSilence(s: SilenceInput): string | null {
  if (!Array.isArray(s.matchers) || s.matchers.length === 0) return 'a silence needs at least one matcher';
  for (const m of s.matchers) {
    if (!m || typeof m.name !== 'string' || !m.name || typeof m.value !== 'string') return 'each matcher needs a name and a value';
    if (!['=', '!=', '=~', '!~'].includes(m.op)) return `matcher op must be =, !=, =~ or !~ (got ${String(m.op)})`;
    if (m.op === '=~' || m.op === '!~') {
      try {
        new RegExp(`^(?:${m.value})$`);
      } catch {
        return `matcher ${m.name} has an invalid regex`;
      }
    }
  }
  // A silence that matches everything would hide every alert: require one positive matcher with a value.
  if (!s.matchers.some((m) => (m.op === '=' || m.op === '=~') && m.value !== '' && m.value !== '.*')) return 'at least one matcher must select something (= or =~ with a value)';
  if (!Number.isFinite(s.startsAt) || !Number.isFinite(s.endsAt) || s.endsAt <= s.startsAt) return 'endsAt must be after startsAt';
  if (typeof s.createdBy !== 'string' || !s.createdBy.trim()) return 'createdBy is required';
  if (typeof s.comment !== 'string' || !s.comment.trim()) return 'a comment is required: say why';
  return null;
}

export function matches(m: Matcher, labels: Record<string, string>): boolean {
  const v = labels[m.name] ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return new RegExp(`^(?:${m.value})$`).test(v);
    case '!~':
      return !new RegExp(`^(?:${m.value})$`).test(v);
  }
}

export function silences(s: Silence, labels: Record<string, string>, now: number): boolean {
  return now >= s.startsAt && now < s.endsAt && s.matchers.every((m) => matches(m, labels));
}

export function newSilence(input: SilenceInput, now: number): Silence {
  return { ...input, id: randomUUID(), createdAt: now };
}
