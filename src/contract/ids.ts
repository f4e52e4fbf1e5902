// What a well-formed id or label is, at every edge (events, budget requests): text that survives UTF-8 and a log
// line unchanged, so two different inputs never become one pseudonym, subject token or ClickHouse key.

// C0 (NUL included), DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// A high surrogate not followed by a low one, or a low one not preceded by a high one (for runtimes without
// String.prototype.isWellFormed; Node 20 and later have it).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:[^\ud800-\udbff]|^)[\udc00-\udfff]/;
const hasIsWellFormed = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function';

/** Well-formed UTF-16: no lone surrogate, which UTF-8 encoding would replace with U+FFFD. */
export function isWellFormedText(s: string): boolean {
  return hasIsWellFormed ? (s as unknown as { isWellFormed(): boolean }).isWellFormed() : !hasLoneSurrogate(s);
}

/** The check for runtimes without String.prototype.isWellFormed (exported for its test). */
export function hasLoneSurrogate(s: string): boolean {
  return LONE_SURROGATE.test(s);
}

/** Why a string cannot be an id or a label, or null when it can: lone surrogates and control characters are refused. */
export function idProblem(s: string): string | null {
  if (CONTROL.test(s)) return 'holds a control character';
  if (!isWellFormedText(s)) return 'is not well-formed Unicode (a lone surrogate)';
  return null;
}
