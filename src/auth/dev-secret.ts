/**
 * The development JWT secret: outside production, when no MD_JWT_SECRET is configured, a
 * random HS256 secret is kept in the data directory so `serve` can print a token that
 * survives restarts. Tokens signed with it are accepted from this machine only.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const DEV_ISSUER = 'meterdata-dev';

export function devSecretPath(dataDir: string): string {
  return path.join(dataDir, 'dev-jwt-secret');
}

/** The secret when the file exists; undefined otherwise (nothing is created). */
export function readDevSecret(dataDir: string): Uint8Array | undefined {
  try {
    const hex = fs.readFileSync(devSecretPath(dataDir), 'utf8').trim();
    return /^[0-9a-f]{64,}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
  } catch {
    return undefined;
  }
}

/** The secret, created (readable by the owner only) when missing. */
export function ensureDevSecret(dataDir: string): Uint8Array {
  const existing = readDevSecret(dataDir);
  if (existing) return existing;
  fs.mkdirSync(dataDir, { recursive: true });
  const file = devSecretPath(dataDir);
  try {
    // `wx`: two processes starting at once keep the first one's secret.
    fs.writeFileSync(file, crypto.randomBytes(32).toString('hex') + '\n', {
      flag: 'wx',
      mode: 0o600,
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const secret = readDevSecret(dataDir);
  if (!secret)
    throw new Error(`${file} does not hold a development secret; remove it to make a new one`);
  return secret;
}
