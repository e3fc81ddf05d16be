/**
 * The HTTP guard in front of /graphql and /ingest/files: authenticates the request (401 with
 * WWW-Authenticate when it cannot), then takes a token from the caller's bucket (429 with
 * Retry-After when empty). Requests without valid credentials are limited per address, so
 * guessing keys is as slow as the bucket allows.
 */
import type express from 'express';
import { type Logger } from '../logger';
import { type Authenticator, credentialFromHeaders } from './authenticate';
import { AccessCode, accessError, HTTP_STATUS, isAccessError } from './errors';
import { ANONYMOUS, type Identity } from './identity';
import { type RateLimiter } from './rate-limit';

/** GraphQL-shaped (`{ errors: [...] }`) or the upload route's plain `{ code, message }`. */
export type ErrorShape = 'graphql' | 'plain';

export interface HttpGuard {
  auth: Authenticator;
  limiter: RateLimiter;
  logger: Logger;
}

/** The identity the guard attached to this request (ANONYMOUS behind no guard). */
export function identityOf(res: express.Response): Identity {
  return (res.locals.identity as Identity | undefined) ?? ANONYMOUS;
}

export function sendError(
  res: express.Response,
  shape: ErrorShape,
  code: string,
  message: string,
  status: number,
  headers: Record<string, string> = {},
): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res
    .status(status)
    .json(
      shape === 'graphql' ? { errors: [{ message, extensions: { code } }] } : { code, message },
    );
}

export const CREDENTIALS_HINT =
  'send Authorization: Bearer <token> or ApiKey <key>, or x-api-key: <key> (README "Security")';

export function authenticateHttp(
  guard: HttpGuard,
  shape: ErrorShape,
  opts: {
    /** requests that may pass without credentials (as ANONYMOUS) */ allow?: (
      req: express.Request,
    ) => boolean;
  } = {},
): express.RequestHandler {
  const refuse = (
    req: express.Request,
    res: express.Response,
    err: { code: string; message: string },
  ) => {
    req.resume();
    const t = guard.limiter.take(`ip:${req.socket.remoteAddress ?? '?'}`);
    if (!t.ok) return tooMany(res, shape, t.retryAfterSeconds);
    sendError(res, shape, err.code, err.message, HTTP_STATUS.UNAUTHENTICATED, {
      'WWW-Authenticate': 'Bearer realm="meterdata"',
    });
  };
  return async (req, res, next) => {
    try {
      const cred = credentialFromHeaders(req.headers);
      if (!cred) {
        if (opts.allow?.(req)) return next();
        return refuse(
          req,
          res,
          accessError(AccessCode.UNAUTHENTICATED, `credentials required: ${CREDENTIALS_HINT}`),
        );
      }
      const identity = await guard.auth.authenticate(cred, req.socket.remoteAddress);
      const t = guard.limiter.take(`id:${identity.subject}`);
      if (!t.ok) {
        req.resume();
        return tooMany(res, shape, t.retryAfterSeconds);
      }
      res.locals.identity = identity;
      next();
    } catch (err) {
      if (isAccessError(err)) return refuse(req, res, err);
      guard.logger.error({ err }, 'authentication failed unexpectedly');
      req.resume();
      sendError(
        res,
        shape,
        'INTERNAL_SERVER_ERROR',
        'credentials could not be checked; retry later',
        503,
        {
          'Retry-After': '5',
        },
      );
    }
  };
}

function tooMany(res: express.Response, shape: ErrorShape, retryAfterSeconds: number): void {
  sendError(
    res,
    shape,
    AccessCode.RATE_LIMITED,
    `too many requests; retry after ${retryAfterSeconds} s (MD_RATE_LIMIT_PER_SECOND, MD_RATE_LIMIT_BURST)`,
    HTTP_STATUS.RATE_LIMITED,
    { 'Retry-After': String(retryAfterSeconds) },
  );
}
