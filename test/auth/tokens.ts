/**
 * Identities for tests: a JWT secret for test servers, tokens for any role, and the headers
 * that carry them. (Not a test file: the API, ingest and auth tests import it.)
 */
import { SignJWT } from 'jose';
import { internalIdentity, type Identity, type Role } from '../../src/auth';
import { loadConfig, type Config } from '../../src/config';

export const TEST_JWT_SECRET = 'meterdata-test-secret-0123456789abcdef';

/** The default configuration with the test JWT secret. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), jwtSecret: TEST_JWT_SECRET, ...overrides };
}

export interface TokenOptions {
  accounts?: string[];
  /** seconds from now until `exp` (negative: already expired); default one hour */
  ttlSeconds?: number;
  subject?: string;
  secret?: string;
  /** claims replacing the default roles claim (e.g. several roles) */
  claims?: Record<string, unknown>;
}

/** An HS256 token for `role`, signed with the test secret. */
export async function tokenFor(role: Role | null, opts: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    ...(role ? { roles: [role] } : {}),
    ...(opts.accounts ? { accounts: opts.accounts } : {}),
    ...(opts.claims ?? {}),
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(opts.subject ?? `test-${role ?? 'nobody'}`)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.ttlSeconds ?? 3600))
    .sign(new TextEncoder().encode(opts.secret ?? TEST_JWT_SECRET));
}

export async function bearer(role: Role, opts: TokenOptions = {}): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await tokenFor(role, opts)}` };
}

/** The identity the API test harness runs operations as unless told otherwise. */
export const ADMIN: Identity = internalIdentity('admin', { name: 'test-admin' });
