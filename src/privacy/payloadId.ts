// Finds the customer in a rejected payload, parseable or not, so erasure can find every dead letter of a customer
// and pseudonymization can replace the id in it: the top-level `customerId` only, with its key decoded as JSON
// decodes it (`"customer\u0049d"` is the same key), whatever the spacing, and in a truncated payload too.

/** One top-level `customerId` member whose value is complete: the value as JSON reads it, and where it stands. */
export interface IdOccurrence {
  /** A string value as decoded; a number as `String(JSON.parse(raw))`. */
  value: string;
  /** The value's span in the text, quotes included: [start, end). */
  start: number;
  end: number;
}

const FIELD = 'customerId';
const WS = new Set([' ', '\t', '\n', '\r']);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * Every top-level `customerId` member of a JSON object's text with a complete string or number value, in order (JSON
 * keeps the last of repeated keys). Lenient: it reads up to the first thing that is not JSON (a truncation, a syntax
 * error) and keeps what it found before it; nested objects and arrays are skipped, so `props.customerId` is not
 * the customer. Linear in the text's length, never throws.
 */
export function scanCustomerIds(text: string): IdOccurrence[] {
  const found: IdOccurrence[] = [];
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && WS.has(text[i])) i++;
  };
  /** A string from its opening quote at i: the decoded text, or null (unterminated or a bad escape). */
  const str = (): string | null => {
    let out = '';
    i++;
    while (i < n) {
      const c = text[i];
      if (c === '"') {
        i++;
        return out;
      }
      if (c !== '\\') {
        // A run of plain characters at once; one pass over the text in all (searching ahead for the closing quote at
        // every escape would be quadratic on a long string of escapes).
        let stop = i + 1;
        while (stop < n && text[stop] !== '"' && text[stop] !== '\\') stop++;
        out += text.slice(i, stop);
        i = stop;
        continue;
      }
      const e = text[i + 1];
      if (e === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) return null;
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else if (e !== undefined && ESCAPES[e] !== undefined) {
        out += ESCAPES[e];
        i += 2;
      } else {
        return null;
      }
    }
    return null;
  };
  /** Skips a nested object or array from its opening bracket at i; false when it does not close. */
  const nested = (): boolean => {
    let depth = 0;
    while (i < n) {
      const c = text[i];
      if (c === '"') {
        if (str() === null) return false;
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          i++;
          return true;
        }
      }
      i++;
    }
    return false;
  };

  ws();
  if (text[i] !== '{') return found;
  i++;
  for (;;) {
    ws();
    if (text[i] !== '"') return found; // `}`, the end, or not JSON: done either way
    const key = str();
    if (key === null) return found;
    ws();
    if (text[i] !== ':') return found;
    i++;
    ws();
    const start = i;
    const c = text[i];
    if (c === '"') {
      const value = str();
      if (value === null) return found;
      if (key === FIELD) found.push({ value, start, end: i });
    } else if (c === '{' || c === '[') {
      if (!nested()) return found;
    } else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) return found;
      i += m[0].length;
      // A number that runs to the end of the text may have been cut: it is not known complete.
      if (i >= n) return found;
      if (key === FIELD) found.push({ value: String(JSON.parse(m[0]) as number), start, end: i });
    } else if (text.startsWith('true', i) || text.startsWith('null', i)) {
      i += 4;
    } else if (text.startsWith('false', i)) {
      i += 5;
    } else {
      return found;
    }
    ws();
    if (text[i] !== ',') return found;
    i++;
  }
}

/** The customer a payload names (its last top-level customerId), or '' when none can be read. */
export function readCustomerId(text: string): string {
  const found = scanCustomerIds(text);
  return found.length === 0 ? '' : found[found.length - 1].value;
}
