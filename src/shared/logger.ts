// One pino logger for the process; modules take a child with their own `stage` binding.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Secrets at every depth a config is logged at: whole (`log.info(config)`), as a field (`{ config }`), or one section.
 * src/shared/logger.test.ts logs each of them and checks the output.
 */
export const REDACTED_PATHS = [
  'password',
  'pseudonymKey',
  'token',
  'tokens',
  '*.token',
  '*.tokens',
  '*.password',
  '*.secret',
  '*.pseudonymKey',
  '*.*.password',
  '*.*.tokens',
  '*.*.pseudonymKey',
  '*.*.*.password',
  '*.*.*.tokens',
];

export function createLogger(level: string, pretty = false, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { app: 'vigil' },
    // Secrets never reach the logs, even when a config object is logged whole: the paths are pino's fast
    // redaction, the formatter catches a secret key at any depth the paths do not reach.
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    formatters: { log: (o: Record<string, unknown>) => redactSecrets(o) as Record<string, unknown> },
    ...(pretty ? {} : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}

const SECRET_KEYS = new Set(['password', 'pseudonymKey', 'token', 'tokens', 'secret']);

/** The value with every secret-named key censored at any depth; objects without one come back as they are. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 10 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const r = redactSecrets(v, depth + 1);
      changed ||= r !== v;
      return r;
    });
    return changed ? out : value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value; // errors, buffers, dates: left to pino
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(value)) {
    const r = SECRET_KEYS.has(k) && v !== '' && v !== undefined ? '[redacted]' : redactSecrets(v, depth + 1);
    if (r !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = r;
  }
  return out ?? value;
}

/** A logger that discards everything; for tests and library callers. */
export const silentLogger: Logger = pino({ level: 'silent' });
