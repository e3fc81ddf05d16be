/**
 * One ErrorCode enum for everything that reaches a client (GraphQL `extensions.code`,
 * the CLI's exit message, HTTP bodies). Messages say what to do next.
 */
export enum ErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  UNKNOWN_METER = 'UNKNOWN_METER',
  UNKNOWN_CHANNEL = 'UNKNOWN_CHANNEL',
  UNKNOWN_TOPOLOGY_REFERENCE = 'UNKNOWN_TOPOLOGY_REFERENCE',
  INVALID_RANGE = 'INVALID_RANGE',
  RANGE_TOO_LARGE = 'RANGE_TOO_LARGE',
  BAD_UNIT = 'BAD_UNIT',
  BAD_VALUE = 'BAD_VALUE',
  BAD_TIMESTAMP = 'BAD_TIMESTAMP',
  MISALIGNED_INTERVAL = 'MISALIGNED_INTERVAL',
  INTERVAL_LENGTH_MISMATCH = 'INTERVAL_LENGTH_MISMATCH',
  FUTURE_TIMESTAMP = 'FUTURE_TIMESTAMP',
  OUTSIDE_INSTALLATION = 'OUTSIDE_INSTALLATION',
  NONEXISTENT_LOCAL_TIME = 'NONEXISTENT_LOCAL_TIME',
  AMBIGUOUS_LOCAL_TIME = 'AMBIGUOUS_LOCAL_TIME',
  BAD_TIME_ZONE = 'BAD_TIME_ZONE',
  BATCH_TOO_LARGE = 'BATCH_TOO_LARGE',
  MALFORMED_FILE = 'MALFORMED_FILE',
  MISSING_COLUMN = 'MISSING_COLUMN',
  NOT_FOUND = 'NOT_FOUND',
  QUEUE_UNAVAILABLE = 'QUEUE_UNAVAILABLE',
  FILE_TOO_LARGE = 'FILE_TOO_LARGE',
  DUPLICATE_FILE = 'DUPLICATE_FILE',
  UNKNOWN_FORMAT = 'UNKNOWN_FORMAT',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  RATE_LIMITED = 'RATE_LIMITED',
  AGGREGATE_WITHHELD = 'AGGREGATE_WITHHELD',
  TOO_MANY_SUBSCRIPTIONS = 'TOO_MANY_SUBSCRIPTIONS',
  AUTH_NOT_CONFIGURED = 'AUTH_NOT_CONFIGURED',
  QUERY_TIMEOUT = 'QUERY_TIMEOUT',
  QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX',
  DEAD_LETTER = 'DEAD_LETTER',
  INTERNAL = 'INTERNAL_SERVER_ERROR',
}

/** An error whose message and code may be shown to the caller as they are. */
export class MeterdataError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeterdataError';
    this.code = code;
    this.details = options?.details;
  }
}

/** What a client gets besides the message: the error's details, and its code. */
export function extensionsOf(err: MeterdataError): Record<string, unknown> {
  return { ...(err.details ?? {}), code: err.code };
}

export function isMeterdataError(err: unknown): err is MeterdataError {
  return err instanceof MeterdataError;
}

/** SQLSTATE classes the storage layer recognises (never by message text). */
export const SqlState = {
  UNIQUE_VIOLATION: '23505',
  SERIALIZATION_FAILURE: '40001',
  DEADLOCK_DETECTED: '40P01',
  QUERY_CANCELED: '57014',
  DISK_FULL: '53100',
} as const;

export function sqlStateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
