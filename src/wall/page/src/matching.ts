// Which alerts the silences hide, matched with the processor's own matcher (src/alerts/matchers.ts, RE2 via re2js).
import type { Matcher, Silence } from '../../../contract/frames.js';
import { compileMatchers, matches, type CompiledMatcher } from '../../../alerts/matchers.js';
import { state } from './state.js';

// The page's clock is the server's estimated from frame timestamps; a silence made "now" can look a few ms
// in the future from here, so starting within this tolerance counts as started.
const CLOCK_TOLERANCE_MS = 2_000;

/** Compiled once per matcher list: silences frames replace the lists, so old ones are collected with them. */
const compiledCache = new WeakMap<readonly Matcher[], CompiledMatcher[] | null>();

function compiled(matchers: readonly Matcher[]): CompiledMatcher[] | null {
  let out = compiledCache.get(matchers);
  if (out === undefined) {
    const result = compileMatchers(matchers);
    // The source refuses a silence it cannot compile, so none arrives; were one to, it hides nothing here.
    out = typeof result === 'string' ? null : result;
    compiledCache.set(matchers, out);
  }
  return out;
}

export function silenceActive(silence: Pick<Silence, 'startsAt' | 'endsAt'>, now: number): boolean {
  return now >= silence.startsAt - CLOCK_TOLERANCE_MS && now < silence.endsAt;
}

export function matchesAll(matchers: readonly Matcher[], labels: Record<string, string> | undefined): boolean {
  if (matchers.length === 0) return true;
  const list = compiled(matchers);
  return list !== null && list.every((m) => matches(m, labels ?? {}));
}

/** alert id → the active silences that match it; the page's own view, so an expired silence unmarks at once. */
export function silencedMap(now: number): Map<string, Silence[]> {
  const active = state.silences.filter((s) => silenceActive(s, now));
  const out = new Map<string, Silence[]>();
  if (active.length === 0) return out;
  for (const alert of state.alerts.values()) {
    const hits = active.filter((s) => matchesAll(s.matchers, alert.labels));
    if (hits.length) out.set(alert.id, hits);
  }
  return out;
}

export function matcherText(m: Matcher): string {
  return `${m.name} ${m.op} ${m.value}`;
}

/** A server timestamp as this screen's hh:mm. */
export function clockTime(ms: number): string {
  return new Date(ms - state.serverOffset).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
}
