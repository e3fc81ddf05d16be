/**
 * A friendly start stays friendly: outside production, `serve` prints a development token —
 * an admin JWT signed with MD_JWT_SECRET, or else with a random secret kept in the data
 * directory (then accepted from this machine only). Nothing here runs in production.
 */
import { SignJWT } from 'jose';
import { type Config } from '../config';
import { DEV_ISSUER, ensureDevSecret } from './dev-secret';
import { type Role } from './roles';

export interface DevelopmentToken {
  token: string;
  expiresAt: Date;
  role: Role;
  /** signed with the data directory's secret: accepted from this machine only */
  localOnly: boolean;
}

const DEFAULT_TTL_SECONDS = 12 * 3600;

/** A signed development token; null in production. */
export async function developmentToken(
  config: Config,
  opts: { role?: Role; ttlSeconds?: number; subject?: string; accounts?: string[] } = {},
): Promise<DevelopmentToken | null> {
  if (config.production) return null;
  const role = opts.role ?? 'admin';
  const localOnly = !config.jwtSecret;
  const key = config.jwtSecret
    ? new TextEncoder().encode(config.jwtSecret)
    : ensureDevSecret(config.dataDir);
  const now = Math.floor(Date.now() / 1000);
  const exp = now + (opts.ttlSeconds ?? DEFAULT_TTL_SECONDS);
  let jwt = new SignJWT({
    [config.jwtRolesClaim]: [role],
    ...(opts.accounts ? { [config.jwtAccountsClaim]: opts.accounts } : {}),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(opts.subject ?? 'developer')
    .setIssuedAt(now)
    .setExpirationTime(exp);
  if (localOnly) jwt = jwt.setIssuer(DEV_ISSUER);
  else {
    if (config.jwtIssuer) jwt = jwt.setIssuer(config.jwtIssuer);
    if (config.jwtAudience) jwt = jwt.setAudience(config.jwtAudience);
  }
  return { token: await jwt.sign(key), expiresAt: new Date(exp * 1000), role, localOnly };
}

/**
 * The lines `serve` prints after it listens (null in production): a development admin token
 * and how to send it.
 */
export async function developmentNotice(config: Config, url: string): Promise<string | null> {
  const t = await developmentToken(config);
  if (!t) return null;
  const where = t.localOnly ? 'accepted from this machine only' : 'signed with MD_JWT_SECRET';
  return [
    `development token (role ${t.role}, valid until ${t.expiresAt.toISOString()}, ${where}):`,
    `  ${t.token}`,
    `send it as the header \`Authorization: Bearer <token>\` to ${url} and POST /ingest/files, or as { authorization: "Bearer <token>" } in a WebSocket's connection_init; for systems, create API keys with \`meterdata keys create --role …\``,
  ].join('\n');
}
