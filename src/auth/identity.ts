/** Who is calling: the identity a JWT or an API key proves, shared by HTTP and WebSocket. */
import { PRIVILEGED_ROLES, type Role, TOPOLOGY_WIDE_ROLES } from './roles';

export interface Identity {
  /** `jwt:<sub>`, `key:<id>`, `internal:<name>` or `anonymous` (for logs and rate limits) */
  readonly subject: string;
  readonly roles: readonly Role[];
  /** account codes a customer is bound to (empty for other roles) */
  readonly accountCodes: readonly string[];
  readonly via: 'jwt' | 'apiKey' | 'internal' | 'none';
  /** when the credential stops being valid, epoch ms (JWT `exp`); null = until revoked */
  readonly expiresAt: number | null;
  /** the API key's id, for re-checks and `keys revoke` */
  readonly keyId: number | null;
  /** signed with the development secret: accepted from this machine only */
  readonly development: boolean;
}

export const ANONYMOUS: Identity = Object.freeze({
  subject: 'anonymous',
  roles: [],
  accountCodes: [],
  via: 'none',
  expiresAt: null,
  keyId: null,
  development: false,
});

/** An identity for programs that embed the gateway (tests, tools): nothing is verified. */
export function internalIdentity(
  role: Role,
  opts: { name?: string; accounts?: readonly string[] } = {},
): Identity {
  return Object.freeze({
    subject: `internal:${opts.name ?? role}`,
    roles: [role],
    accountCodes: [...(opts.accounts ?? [])],
    via: 'internal',
    expiresAt: null,
    keyId: null,
    development: false,
  });
}

export function hasAnyRole(id: Identity, roles: readonly Role[]): boolean {
  return id.roles.some((r) => roles.includes(r));
}

/** Sees individual meters everywhere (and inside aggregates). */
export function isPrivileged(id: Identity): boolean {
  return hasAnyRole(id, PRIVILEGED_ROLES);
}

/** Sees the whole topology; otherwise only a customer's part of it (or nothing). */
export function seesWholeTopology(id: Identity): boolean {
  return hasAnyRole(id, TOPOLOGY_WIDE_ROLES);
}
