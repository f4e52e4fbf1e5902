// A reader for the NATS server configuration format as far as Vigil's files use it (maps, arrays, quoted and bare
// values, `:` `=` or a space between key and value, `#` and `//` comments), so tests can check what a file says.
// `include` only with a reader for the included file; `$NAME` values (read from the server's environment) are kept
// as the string "$NAME" when asked for, and refused otherwise, rather than misread.

export type NatsConfValue = string | number | boolean | NatsConfValue[] | { [key: string]: NatsConfValue };
export type NatsConfMap = { [key: string]: NatsConfValue };

export interface NatsConfOptions {
  /** The text of an included file, by the path the `include` names. */
  include?: (path: string) => string;
  /** Keep `$NAME` values as the string "$NAME". */
  variables?: boolean;
}

export function parseNatsConf(text: string, opts: NatsConfOptions = {}): NatsConfMap {
  let i = 0;
  const fail = (why: string): never => {
    const line = text.slice(0, i).split('\n').length;
    throw new Error(`nats config, line ${line}: ${why}`);
  };

  /** Skips blanks, comments and, when asked, the separators between entries (newlines, commas, semicolons). */
  const skip = (separators: boolean) => {
    for (;;) {
      const c = text[i];
      if (c === ' ' || c === '\t' || c === '\r' || (separators && (c === '\n' || c === ',' || c === ';'))) i++;
      else if (c === '#' || (c === '/' && text[i + 1] === '/')) while (i < text.length && text[i] !== '\n') i++;
      else return;
    }
  };

  const quoted = (): string => {
    const q = text[i++];
    let out = '';
    while (i < text.length && text[i] !== q) {
      if (text[i] === '\\' && q === '"') {
        const e = text[i + 1];
        out += e === 'n' ? '\n' : e === 't' ? '\t' : e;
        i += 2;
      } else out += text[i++];
    }
    if (text[i] !== q) fail('unterminated string');
    i++;
    return out;
  };

  const key = (): string => {
    if (text[i] === '"' || text[i] === "'") return quoted();
    const m = /^[A-Za-z0-9_.$-]+/.exec(text.slice(i));
    if (!m) return fail(`expected a key at "${text.slice(i, i + 20)}"`);
    if ((m[0] === 'include' && !opts.include) || m[0].startsWith('$')) fail(`"${m[0]}" is not supported by this reader`);
    i += m[0].length;
    return m[0];
  };

  const bare = (): NatsConfValue => {
    const m = /^[^\s,;}\]#]+/.exec(text.slice(i));
    if (!m) return fail(`expected a value at "${text.slice(i, i + 20)}"`);
    i += m[0].length;
    const v = m[0];
    if (v.startsWith('$')) return opts.variables ? v : fail(`variable ${v} is not supported by this reader`);
    if (/^(true|yes|on)$/i.test(v)) return true;
    if (/^(false|no|off)$/i.test(v)) return false;
    return /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  };

  const value = (): NatsConfValue => {
    skip(false);
    const c = text[i];
    if (c === '{') {
      i++;
      const m = entries('}');
      i++;
      return m;
    }
    if (c === '[') {
      i++;
      const items: NatsConfValue[] = [];
      for (;;) {
        skip(true);
        if (text[i] === ']') break;
        if (i >= text.length) fail('unterminated array');
        items.push(value());
      }
      i++;
      return items;
    }
    if (c === '"' || c === "'") return quoted();
    return bare();
  };

  const entries = (close: string | undefined): NatsConfMap => {
    const out: NatsConfMap = {};
    for (;;) {
      skip(true);
      if (i >= text.length) {
        if (close) fail(`missing "${close}"`);
        return out;
      }
      if (text[i] === close) return out;
      const k = key();
      skip(false);
      if (k === 'include') {
        const path = text[i] === '"' || text[i] === "'" ? quoted() : String(bare());
        for (const [ik, iv] of Object.entries(parseNatsConf(opts.include!(path), opts))) {
          if (ik in out) fail(`key "${ik}" given twice (in ${path})`);
          out[ik] = iv;
        }
        continue;
      }
      if (text[i] === ':' || text[i] === '=') i++;
      if (k in out) fail(`key "${k}" given twice`);
      out[k] = value();
    }
  };

  return entries(undefined);
}
