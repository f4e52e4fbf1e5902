// Typed errors with a stable code, so operators and tests can match on the code, not the wording.

export type VigilErrorCode =
  | 'CONFIG_INVALID'
  | 'INVALID_EVENT'
  | 'CLICKHOUSE_UNAVAILABLE'
  | 'CLICKHOUSE_QUERY_FAILED'
  | 'CLICKHOUSE_SPILL_UNAVAILABLE'
  | 'NATS_UNAVAILABLE'
  | 'REDIS_UNAVAILABLE'
  | 'MIGRATION_FAILED'
  | 'MODEL_FIT_FAILED'
  | 'MODEL_INPUT_INVALID'
  | 'WALL_TRANSPORT_UNAVAILABLE'
  | 'UNAUTHORIZED'
  | 'ERASURE_INCOMPLETE'
  | 'PARTITION_UNAVAILABLE';

export class VigilError extends Error {
  readonly code: VigilErrorCode;

  constructor(code: VigilErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VigilError';
    this.code = code;
  }
}

/** The message of any thrown value, for logs and reasons. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
