/**
 * API keys for systems: `mdk_` and 32 random bytes (base64url). Only the SHA-256 of the whole
 * key is stored; with 256 bits of entropy a plain hash is enough (no slow KDF needed), and a
 * look-up by hash never compares secrets in JavaScript.
 */
import crypto from 'node:crypto';

export const API_KEY_PREFIX = 'mdk_';
const KEY_RE = /^mdk_[A-Za-z0-9_-]{43}$/;
/** characters of a key shown by `keys list` to recognise it */
const SHOWN = 12;

export interface NewApiKey {
  /** the key to hand over, shown once */
  key: string;
  /** the first characters, kept to recognise the key in lists */
  prefix: string;
  sha256: string;
}

export function generateApiKey(): NewApiKey {
  const key = API_KEY_PREFIX + crypto.randomBytes(32).toString('base64url');
  return { key, prefix: key.slice(0, SHOWN), sha256: hashApiKey(key) };
}

export function looksLikeApiKey(s: string): boolean {
  return KEY_RE.test(s);
}

export function hashApiKey(key: string): string {
  return crypto.createHash('sha256').update(key, 'utf8').digest('hex');
}
