// Silences, as Alertmanager has them: label matchers over a time range, with who made it and why. Regex matchers
// run on RE2 (linear time, as Alertmanager's Go regexp), so no label value, however chosen, can stall the loop.
import { randomUUID } from 'node:crypto';
import type { Matcher, Silence, SilenceInput } from '../contract/frames.js';
import { compileMatchers, matches, type CompiledMatcher } from './matchers.js';

export type { Matcher, Silence, SilenceInput };
// The matcher itself lives in matchers.ts (no Node imports) so the wall page bundles the same code.
export { compileMatchers, compileRegex, matches, type CompiledMatcher } from './matchers.js';

/**
 * Label values a regex must fail on at least one of to count as selecting something: varied in alphabet, case,
 * length and script, none with a newline (label values hold none, and `[^\n]*.` must count as "everything").
 */
export const PROBES: readonly string[] = [
  'a',
  'Z',
  '0',
  '-',
  '_',
  ' ',
  'x',
  'firing',
  'customer_contact_fatigue',
  'critical',
  'spring-sale-2026',
  'c-1',
  '3f2a9c0e4b1d8a7f6e5d4c3b2a190807',
  'alice@example.com',
  'Ünïcødé 顧客 😀',
  ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~',
  'q'.repeat(300),
  '\t\u00a0\u2028x',
];

/**
 * Whether a matcher selects something narrower than "any non-empty value": an `=` with a value, or an `=~` that
 * matches neither the empty string (an absent label) nor every probe. `!=` and `!~` never do.
 */
function narrows(m: CompiledMatcher): boolean {
  if (m.op === '=') return m.value !== '';
  if (m.op !== '=~') return false;
  if (m.re.matches('')) return false;
  return !PROBES.every((p) => m.re.matches(p));
}

/** Why a silence cannot be made, or null when it is fine. */
export function validateSilence(s: SilenceInput): string | null {
  const checked = checkSilence(s);
  return typeof checked === 'string' ? checked : null;
}

/** The silence's matchers compiled when it may be made, else why not: validation and matching share one compile. */
export function checkSilence(s: SilenceInput): CompiledMatcher[] | string {
  const compiled = compileMatchers(s.matchers);
  if (typeof compiled === 'string') return compiled;
  // A silence that matches everything would hide every alert: Alertmanager's rule (one matcher that does not match
  // the empty string) and more, since `.+` or `x|.*` would pass that and still hide every alert.
  if (!compiled.some(narrows)) return 'at least one matcher must select something: = with a value, or =~ with a regex that matches neither an empty nor any value (.*, .+ and the like select everything)';
  if (!Number.isFinite(s.startsAt) || !Number.isFinite(s.endsAt) || s.endsAt <= s.startsAt) return 'endsAt must be after startsAt';
  if (typeof s.createdBy !== 'string' || !s.createdBy.trim()) return 'createdBy is required';
  if (typeof s.comment !== 'string' || !s.comment.trim()) return 'a comment is required: say why';
  return compiled;
}

/** Whether a silence, its matchers compiled once beforehand, hides an alert with these labels at `now`. */
export function silences(s: Pick<Silence, 'startsAt' | 'endsAt'>, compiled: CompiledMatcher[], labels: Record<string, string>, now: number): boolean {
  return now >= s.startsAt && now < s.endsAt && compiled.every((m) => matches(m, labels));
}

export function newSilence(input: SilenceInput, now: number): Silence {
  return { ...input, id: randomUUID(), createdAt: now };
}
