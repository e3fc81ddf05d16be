/** Start-up checks of the authentication settings: a production server must be able to tell callers apart. */
import { type Config } from '../config';
import { AccessCode, accessError } from './errors';

const ALGORITHMS = new Set([
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
]);

/**
 * Throws AUTH_NOT_CONFIGURED when the settings cannot work: a production start needs
 * MD_JWT_SECRET or MD_JWKS_URL, or MD_ALLOW_API_KEYS_ONLY=1; a JWT secret needs 32 bytes.
 */
export function assertAuthConfigured(config: Config): void {
  const refuse = (message: string) => {
    throw accessError(AccessCode.AUTH_NOT_CONFIGURED, message);
  };
  if (config.jwtSecret !== undefined && Buffer.byteLength(config.jwtSecret, 'utf8') < 32) {
    refuse(
      `MD_JWT_SECRET must be at least 32 bytes (it has ${Buffer.byteLength(config.jwtSecret, 'utf8')}); generate one with \`openssl rand -hex 32\``,
    );
  }
  const unknown = config.jwtAlgorithms.filter((a) => !ALGORITHMS.has(a));
  if (unknown.length) {
    refuse(
      `MD_JWT_ALGORITHMS holds ${unknown.join(', ')}; use HS256, RS256, ES256 or another JWS algorithm`,
    );
  }
  if (config.jwksUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(config.jwksUrl);
    } catch {
      refuse(`MD_JWKS_URL is not a URL (${JSON.stringify(config.jwksUrl)})`);
    }
    if (config.production && url?.protocol !== 'https:') {
      refuse(`MD_JWKS_URL must be an https:// URL in production (got ${url?.protocol})`);
    }
  }
  if (!config.production) return;
  if (!config.jwtSecret && !config.jwksUrl && !config.allowApiKeysOnly) {
    refuse(
      'refusing to start in production without a way to authenticate callers: set MD_JWT_SECRET (an HS256 secret of at least 32 bytes) or MD_JWKS_URL (the JWKS of your identity provider, for RS256 tokens), or set MD_ALLOW_API_KEYS_ONLY=1 to accept API keys only (create them with `meterdata keys create --role …`)',
    );
  }
}
