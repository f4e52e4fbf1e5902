// The silence matcher alone, pure and free of Node imports: the processor (silences.ts) and the wall page
// (src/wall/page) match with this one module. Regexes run on RE2 (linear time), so no label value can stall either.
import { RE2JS } from 're2js';
import type { Matcher } from '../contract/frames.js';

/** A matcher ready to test: a regex one carries its pattern compiled once, anchored as Alertmanager's `^(?:v)$`. */
export type CompiledMatcher = { name: string; op: '=' | '!='; value: string } | { name: string; op: '=~' | '!~'; re: RE2JS };

/** The compiled anchored regex, or why RE2 refuses it (the reason names no part of the pattern). */
export function compileRegex(value: string): RE2JS | string {
  try {
    return RE2JS.compile(`^(?:${value})$`);
  } catch {
    return 'is not a valid RE2 regex (the syntax Alertmanager uses): backreferences and lookaround are not supported, repeats go up to {1000}';
  }
}

/** Every matcher compiled, or why one cannot be (matchers counted from 1). Total: a malformed stored silence is a reason. */
export function compileMatchers(matchers: unknown): CompiledMatcher[] | string {
  if (!Array.isArray(matchers) || matchers.length === 0) return 'a silence needs at least one matcher';
  const out: CompiledMatcher[] = [];
  for (let i = 0; i < matchers.length; i++) {
    const m = matchers[i] as Partial<Matcher> | null;
    if (!m || typeof m !== 'object' || typeof m.name !== 'string' || !m.name || typeof m.value !== 'string') return `matcher ${i + 1} needs a name and a value`;
    if (m.op === '=' || m.op === '!=') out.push({ name: m.name, op: m.op, value: m.value });
    else if (m.op === '=~' || m.op === '!~') {
      const re = compileRegex(m.value);
      if (typeof re === 'string') return `matcher ${i + 1}: the regex ${re}`;
      out.push({ name: m.name, op: m.op, re });
    } else return `matcher ${i + 1}: op must be =, !=, =~ or !~`;
  }
  // Exact matchers first: a silence that does not apply is then usually ruled out before any regex runs.
  return [...out.filter((m) => !('re' in m)), ...out.filter((m) => 're' in m)];
}

export function matches(m: CompiledMatcher, labels: Record<string, string>): boolean {
  const v = labels[m.name] ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return m.re.matches(v);
    case '!~':
      return !m.re.matches(v);
  }
}
