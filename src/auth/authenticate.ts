/**
 * Turns credentials into an Identity: `Authorization: Bearer <jwt>`, `Authorization: ApiKey
 * <key>` or `x-api-key: <key>` on HTTP, `{ authorization }` or `{ apiKey }` in a WebSocket's
 * connection_init. JWTs are HS256 (MD_JWT_SECRET) or RS256 through a JWKS (MD_JWKS_URL);
 * API keys are looked up by their SHA-256 on every request, so a revoked key stops at once.
 */
import { type IncomingHttpHeaders } from 'node:http';
import { type Queryable } from '@databases/pg';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
} from 'jose';
import { type Config } from '../config';
import { type Logger } from '../logger';
import { apiKeyByHash, apiKeyById, touchApiKey } from '../storage/access';
import { DEV_ISSUER, readDevSecret } from './dev-secret';
import { AccessCode, accessError } from './errors';
import { type Identity } from './identity';
import { hashApiKey, looksLikeApiKey } from './keys';
import { isRole, type Role } from './roles';

export type Credential = { kind: 'jwt'; token: string } | { kind: 'apiKey'; key: string };

const unauthenticated = (message: string, cause?: unknown) =>
  accessError(AccessCode.UNAUTHENTICATED, message, cause === undefined ? undefined : { cause });

/** One `Authorization` value: `Bearer <jwt or API key>` or `ApiKey <key>`. */
function parseAuthorization(value: string): Credential {
  const m = /^(\S+)\s+(\S+)\s*$/.exec(value.trim());
  const scheme = m?.[1]?.toLowerCase();
  const token = m?.[2] ?? '';
  if (scheme === 'bearer') {
    return looksLikeApiKey(token) ? { kind: 'apiKey', key: token } : { kind: 'jwt', token };
  }
  if (scheme === 'apikey') return { kind: 'apiKey', key: token };
  throw unauthenticated('the Authorization header must be "Bearer <token>" or "ApiKey <key>"');
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Credentials of an HTTP request; null when it carries none. */
export function credentialFromHeaders(headers: IncomingHttpHeaders): Credential | null {
  const authorization = single(headers.authorization);
  const apiKey = single(headers['x-api-key']);
  if (authorization && apiKey) {
    throw unauthenticated('give one credential: an Authorization header or x-api-key, not both');
  }
  if (authorization) return parseAuthorization(authorization);
  if (apiKey) return { kind: 'apiKey', key: apiKey.trim() };
  return null;
}

/** Credentials of a WebSocket's connection_init payload; null when it carries none. */
export function credentialFromParams(
  params: Readonly<Record<string, unknown>> | undefined,
): Credential | null {
  if (!params) return null;
  const authorization = params.authorization ?? params.Authorization;
  const apiKey = params.apiKey ?? params['x-api-key'];
  if (authorization !== undefined && apiKey !== undefined) {
    throw unauthenticated('give one credential in connection_init: authorization or apiKey');
  }
  if (typeof authorization === 'string') return parseAuthorization(authorization);
  if (typeof apiKey === 'string') return { kind: 'apiKey', key: apiKey.trim() };
  if (authorization !== undefined || apiKey !== undefined) {
    throw unauthenticated('connection_init credentials must be strings');
  }
  return null;
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\./.test(a);
}

const TOUCH_EVERY_MS = 60_000;

export class Authenticator {
  private readonly config: Config;
  private readonly db: Queryable;
  private readonly logger: Logger;
  private readonly jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  private devSecret: Uint8Array | undefined;
  private readonly touched = new Map<number, number>();

  constructor(deps: { config: Config; db: Queryable; logger: Logger }) {
    this.config = deps.config;
    this.db = deps.db;
    this.logger = deps.logger;
    this.jwks = deps.config.jwksUrl ? createRemoteJWKSet(new URL(deps.config.jwksUrl)) : undefined;
  }

  /** The identity the credential proves; UNAUTHENTICATED when it proves none. */
  async authenticate(cred: Credential, remoteAddress?: string): Promise<Identity> {
    const identity =
      cred.kind === 'jwt' ? await this.verifyJwt(cred.token) : await this.verifyApiKey(cred.key);
    if (identity.development && !isLoopback(remoteAddress)) {
      throw unauthenticated(
        'development tokens are accepted from this machine only; configure MD_JWT_SECRET or use an API key',
      );
    }
    return identity;
  }

  /** Whether an identity still has access (token not expired, key not revoked). */
  async stillValid(identity: Identity, now = Date.now()): Promise<boolean> {
    if (identity.expiresAt !== null && identity.expiresAt <= now) return false;
    if (identity.via === 'apiKey' && identity.keyId !== null) {
      const k = await apiKeyById(this.db, identity.keyId);
      return k !== null && k.revokedAt === null;
    }
    return identity.via !== 'none';
  }

  private async verifyJwt(token: string): Promise<Identity> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch (err) {
      throw unauthenticated('the bearer token is neither a JWT nor an API key', err);
    }
    const c = this.config;
    let development = false;
    let payload: JWTPayload;
    try {
      if (alg?.startsWith('HS')) {
        let key: Uint8Array | undefined = c.jwtSecret
          ? new TextEncoder().encode(c.jwtSecret)
          : undefined;
        if (!key && !c.production) {
          // Read lazily: `serve` may create the development secret after the server started.
          key = this.devSecret ??= readDevSecret(c.dataDir);
          development = key !== undefined;
        }
        if (!key || (!c.jwtAlgorithms.includes(alg) && !development)) {
          throw unauthenticated(
            `tokens signed with ${alg} are not accepted here (MD_JWT_SECRET is not set)`,
          );
        }
        ({ payload } = await jwtVerify(token, key, {
          algorithms: development ? ['HS256'] : c.jwtAlgorithms.filter((a) => a.startsWith('HS')),
          requiredClaims: ['exp', 'sub'],
          ...(development
            ? { issuer: DEV_ISSUER }
            : {
                ...(c.jwtIssuer ? { issuer: c.jwtIssuer } : {}),
                ...(c.jwtAudience ? { audience: c.jwtAudience } : {}),
              }),
        }));
      } else {
        if (!this.jwks) {
          throw unauthenticated(
            `tokens signed with ${alg ?? 'no algorithm'} are not accepted here (MD_JWKS_URL is not set)`,
          );
        }
        ({ payload } = await jwtVerify(token, this.jwks, {
          algorithms: c.jwtAlgorithms.filter((a) => !a.startsWith('HS')),
          requiredClaims: ['exp', 'sub'],
          ...(c.jwtIssuer ? { issuer: c.jwtIssuer } : {}),
          ...(c.jwtAudience ? { audience: c.jwtAudience } : {}),
        }));
      }
    } catch (err) {
      throw jwtError(err);
    }
    return {
      subject: `jwt:${payload.sub}`,
      roles: stringList(payload[c.jwtRolesClaim]).filter(isRole) as Role[],
      accountCodes: stringList(payload[c.jwtAccountsClaim]),
      via: 'jwt',
      expiresAt: (payload.exp as number) * 1000,
      keyId: null,
      development,
    };
  }

  private async verifyApiKey(key: string): Promise<Identity> {
    if (!looksLikeApiKey(key)) throw unauthenticated('the API key is malformed');
    const k = await apiKeyByHash(this.db, hashApiKey(key));
    if (!k) throw unauthenticated('the API key is not known');
    if (k.revokedAt) {
      throw unauthenticated(`the API key ${k.prefix}… was revoked at ${k.revokedAt.toISOString()}`);
    }
    this.touch(k.id);
    return {
      subject: `key:${k.id}`,
      roles: isRole(k.role) ? [k.role] : [],
      accountCodes: k.accountCodes,
      via: 'apiKey',
      expiresAt: null,
      keyId: k.id,
      development: false,
    };
  }

  /** Records the last use, at most once a minute per key and process (no write per request). */
  private touch(id: number): void {
    const now = Date.now();
    if (now - (this.touched.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    this.touched.set(id, now);
    touchApiKey(this.db, id).catch((err) =>
      this.logger.warn({ err, keyId: id }, 'could not record the API key use'),
    );
  }
}

function stringList(v: unknown): string[] {
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

function jwtError(err: unknown): Error {
  if (err instanceof Error && (err as { code?: string }).code === AccessCode.UNAUTHENTICATED) {
    return err;
  }
  if (err instanceof joseErrors.JWTExpired) {
    const exp = Number(err.payload.exp);
    return unauthenticated(
      `the token expired${Number.isFinite(exp) ? ` at ${new Date(exp * 1000).toISOString()}` : ''}; get a new one`,
      err,
    );
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    return unauthenticated(
      `the token's ${err.claim} claim ${err.reason === 'missing' ? 'is missing' : 'is not accepted'}`,
      err,
    );
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return unauthenticated('the token signature is not valid', err);
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) {
    return unauthenticated('the token algorithm is not accepted (MD_JWT_ALGORITHMS)', err);
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSTimeout) {
    return unauthenticated('no key of the identity provider (MD_JWKS_URL) verifies the token', err);
  }
  return unauthenticated('the token is not a valid JWT', err);
}
