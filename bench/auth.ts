/**
 * Credentials for meterdata's own servers in the benchmark: a random HS256 secret passed to
 * the children as MD_JWT_SECRET, and an admin JWT signed with it (README "Security"). Rate
 * limiting is turned off (MD_RATE_LIMIT_PER_SECOND=0): the load runs measure throughput, and
 * every request comes from one identity. A server without authentication ignores both.
 */
import crypto from 'node:crypto';

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export interface BenchAuth {
  /** environment for every meterdata child process */
  env: Record<string, string>;
  /** request headers for the GraphQL endpoint and POST /ingest/files */
  headers: Record<string, string>;
}

export function benchAuth(validSeconds = 7 * 86_400): BenchAuth {
  const secret = crypto.randomBytes(32).toString('hex');
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(
    JSON.stringify({ sub: 'meterdata-bench', roles: ['admin'], iat: now, exp: now + validSeconds }),
  );
  const sig = b64url(crypto.createHmac('sha256', secret).update(`${header}.${payload}`).digest());
  return {
    env: { MD_JWT_SECRET: secret, MD_RATE_LIMIT_PER_SECOND: '0' },
    headers: { authorization: `Bearer ${header}.${payload}.${sig}` },
  };
}

/** One per harness run. */
export const BENCH_AUTH = benchAuth();
