/**
 * Error codes of access control. They travel as MeterdataErrors (so formatError shows their
 * message and code); they belong in ErrorCode (src/errors.ts) and move there with it.
 */
import { type ErrorCode, MeterdataError } from '../errors';

export const AccessCode = {
  /** no credentials, or credentials that do not prove an identity (HTTP 401) */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** an identity whose roles do not allow the operation (HTTP 403) */
  FORBIDDEN: 'FORBIDDEN',
  /** the caller's token bucket is empty (HTTP 429 with Retry-After) */
  RATE_LIMITED: 'RATE_LIMITED',
  /** an aggregate whose group fails the privacy rule */
  AGGREGATE_WITHHELD: 'AGGREGATE_WITHHELD',
  /** a WebSocket connection holds the most subscriptions it may */
  TOO_MANY_SUBSCRIPTIONS: 'TOO_MANY_SUBSCRIPTIONS',
  /** a production start without a way to authenticate clients */
  AUTH_NOT_CONFIGURED: 'AUTH_NOT_CONFIGURED',
} as const satisfies Record<string, `${ErrorCode}`>;
export type AccessCode = (typeof AccessCode)[keyof typeof AccessCode];

export const HTTP_STATUS: Record<AccessCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  AGGREGATE_WITHHELD: 403,
  TOO_MANY_SUBSCRIPTIONS: 429,
  AUTH_NOT_CONFIGURED: 500,
};

export function accessError(
  code: AccessCode,
  message: string,
  options?: { cause?: unknown; details?: Record<string, unknown> },
): MeterdataError {
  return new MeterdataError(code as ErrorCode, message, options);
}

export function isAccessError(err: unknown, code?: AccessCode): err is MeterdataError {
  if (!(err instanceof MeterdataError)) return false;
  const c = err.code as string;
  return code ? c === code : Object.prototype.hasOwnProperty.call(HTTP_STATUS, c);
}
