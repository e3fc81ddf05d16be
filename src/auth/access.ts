/**
 * Per-request access: what the caller's identity may see. Roles are checked by type-graphql's
 * authChecker (`Allow` in roles.ts); objects by the request's loaders, which drop what lies
 * outside a customer's scope — so a customer asking for another account's meter gets exactly
 * what a meter that does not exist gets: null, after the same queries.
 */
import { type Queryable } from '@databases/pg';
import { type AuthChecker } from 'type-graphql';
import { customerScope } from '../storage/access';
import { AccessCode, accessError } from './errors';
import { hasAnyRole, type Identity, isPrivileged, seesWholeTopology } from './identity';
import { type Role } from './roles';

/** Ids a customer identity may see: their accounts and everything on the way to their meters. */
export interface CustomerScope {
  accountIds: ReadonlySet<number>;
  servicePointIds: ReadonlySet<number>;
  meterIds: ReadonlySet<number>;
  transformerIds: ReadonlySet<number>;
  feederIds: ReadonlySet<number>;
  substationIds: ReadonlySet<number>;
}

const EMPTY: CustomerScope = {
  accountIds: new Set(),
  servicePointIds: new Set(),
  meterIds: new Set(),
  transformerIds: new Set(),
  feederIds: new Set(),
  substationIds: new Set(),
};

export interface Access {
  readonly identity: Identity;
  /** null: the whole topology; otherwise the part this identity may see (one query, cached). */
  scope(): Promise<CustomerScope | null>;
  /** Reading an individual meter's values: privileged roles, or a customer for their own meter. */
  assertMeterReadable(meterId: number, serial: string): Promise<void>;
}

export function createAccess(db: Queryable, identity: Identity): Access {
  let own: Promise<CustomerScope> | undefined;
  // A customer's own part of the topology (empty for identities that are not customers).
  const ownScope = () =>
    (own ??= identity.roles.includes('customer')
      ? customerScope(db, identity.accountCodes).then((r) => ({
          accountIds: new Set(r.accountIds),
          servicePointIds: new Set(r.servicePointIds),
          meterIds: new Set(r.meterIds),
          transformerIds: new Set(r.transformerIds),
          feederIds: new Set(r.feederIds),
          substationIds: new Set(r.substationIds),
        }))
      : Promise.resolve(EMPTY));
  return {
    identity,
    scope: () => (seesWholeTopology(identity) ? Promise.resolve(null) : ownScope()),
    async assertMeterReadable(meterId, serial) {
      if (isPrivileged(identity)) return;
      if ((await ownScope()).meterIds.has(meterId)) return;
      throw accessError(
        AccessCode.FORBIDDEN,
        `${describeIdentity(identity)} may not read the values of meter ${serial}: only billing, operator, admin and the meter's own customer may`,
      );
    },
  };
}

/** Keeps the rows a scope holds (all of them when the scope is the whole topology). */
export function within<T>(
  scope: CustomerScope | null,
  rows: readonly T[],
  ids: (s: CustomerScope) => ReadonlySet<number>,
  idOf: (row: T) => number,
): T[] {
  if (!scope) return [...rows];
  const allowed = ids(scope);
  return rows.filter((r) => allowed.has(idOf(r)));
}

export function describeIdentity(id: Identity): string {
  if (id.via === 'none') return 'an anonymous caller';
  return id.roles.length ? `role ${id.roles.join('+')}` : `${id.subject} (no meterdata role)`;
}

interface CheckerContext {
  identity: Identity;
}

/**
 * type-graphql's authChecker over `@Authorized(...Allow.x)`: UNAUTHENTICATED without an
 * identity, FORBIDDEN (naming the roles that may) when the roles do not match.
 */
export const authChecker: AuthChecker<CheckerContext, Role> = ({ context, info }, roles) => {
  const id = context.identity;
  if (id.via === 'none') {
    throw accessError(AccessCode.UNAUTHENTICATED, 'credentials required (README "Security")');
  }
  if (roles.length === 0 || hasAnyRole(id, roles)) return true;
  throw accessError(
    AccessCode.FORBIDDEN,
    `${describeIdentity(id)} may not use ${info.parentType.name}.${info.fieldName} (allowed: ${roles.join(', ')})`,
    { details: { allowedRoles: [...roles] } },
  );
};
