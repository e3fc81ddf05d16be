/**
 * Per-request context: who is calling (identity and access), the caller's request id, the
 * pool, config, a scoped logger, the pub/sub, and DataLoaders created fresh for each request
 * (so nothing is cached across requests, and every look-up within one is batched into a
 * set-based query). The loaders drop what the caller may not see, so every path through the
 * graph is checked at every node.
 */
import crypto from 'node:crypto';
import { type ConnectionPool } from '@databases/pg';
import DataLoader from 'dataloader';
import { type Access, createAccess, type CustomerScope, within } from './auth/access';
import { ANONYMOUS, type Identity } from './auth/identity';
import { type Config } from './config';
import { type Logger } from './logger';
import { type InProcessPubSub } from './resolvers/pubsub';
import {
  accountsByIds,
  feedersByIds,
  feedersBySubstation,
  metersByIds,
  metersBySerials,
  metersByServicePoint,
  metersByTransformer,
  nodeIdByCode,
  servicePointsByIds,
  servicePointsByTransformer,
  substationsByIds,
  transformersByFeeder,
  transformersByIds,
  type AccountRecord,
  type FeederRecord,
  type MeterRecord,
  type ServicePointRecord,
  type SubstationRecord,
  type TransformerRecord,
} from './storage/topology';

export type CodeTable = 'substation' | 'feeder' | 'transformer' | 'account' | 'service_point';

export interface ContextDeps {
  pool: ConnectionPool;
  config: Config;
  logger: Logger;
  pubSub: InProcessPubSub;
}

export interface Loaders {
  meterById: DataLoader<number, MeterRecord | null>;
  meterBySerial: DataLoader<string, MeterRecord | null>;
  substation: DataLoader<number, SubstationRecord | null>;
  feeder: DataLoader<number, FeederRecord | null>;
  transformer: DataLoader<number, TransformerRecord | null>;
  servicePoint: DataLoader<number, ServicePointRecord | null>;
  account: DataLoader<number, AccountRecord | null>;
  feedersBySubstation: DataLoader<number, FeederRecord[]>;
  transformersByFeeder: DataLoader<number, TransformerRecord[]>;
  servicePointsByTransformer: DataLoader<number, ServicePointRecord[]>;
  metersByServicePoint: DataLoader<number, MeterRecord[]>;
  metersByTransformer: DataLoader<number, MeterRecord[]>;
  /** key `${table}:${code}` → id, null when no such code */
  idByCode: DataLoader<string, number | null>;
}

export interface Context extends ContextDeps {
  requestId: string;
  /** who is calling (ANONYMOUS when nothing was proven) */
  identity: Identity;
  access: Access;
  loaders: Loaders;
}

const REQUEST_ID_RE = /^[\w.:-]{1,128}$/;

/**
 * A new context for `identity`; `requestId` from the caller (x-request-id) when it is a sane
 * token.
 */
export function createContext(
  deps: ContextDeps,
  requestId?: string | null,
  identity: Identity = ANONYMOUS,
): Context {
  const id = requestId && REQUEST_ID_RE.test(requestId) ? requestId : crypto.randomUUID();
  const access = createAccess(deps.pool, identity);
  return {
    ...deps,
    logger: deps.logger.child({ requestId: id, subject: identity.subject }),
    requestId: id,
    identity,
    access,
    loaders: createLoaders(deps.pool, access),
  };
}

/**
 * A fetch whose rows are cut to the caller's scope. Both run whatever the answer, so a row
 * outside the scope costs what a missing row costs.
 */
function scoped<K, V extends { id: number }>(
  access: Access,
  ids: (s: CustomerScope) => ReadonlySet<number>,
  fetch: (keys: readonly K[]) => Promise<V[]>,
): (keys: readonly K[]) => Promise<V[]> {
  return async (keys) => {
    const [rows, scope] = await Promise.all([fetch(keys), access.scope()]);
    return within(scope, rows, ids, (r) => r.id);
  };
}

/** One row per key: results in key order, null where nothing was found. */
function byKey<K, V>(
  fetch: (keys: readonly K[]) => Promise<V[]>,
  keyOf: (v: V) => K,
  onLoad?: (v: V) => void,
): DataLoader<K, V | null> {
  return new DataLoader<K, V | null>(async (keys) => {
    const rows = await fetch(keys);
    const m = new Map<K, V>();
    for (const r of rows) {
      m.set(keyOf(r), r);
      onLoad?.(r);
    }
    return keys.map((k) => m.get(k) ?? null);
  });
}

/** Children by parent key: each key gets its list (in the order storage returned them). */
function grouped<K, V>(
  fetch: (keys: readonly K[]) => Promise<V[]>,
  parentOf: (v: V) => K,
  onLoad?: (v: V) => void,
): DataLoader<K, V[]> {
  return new DataLoader<K, V[]>(async (keys) => {
    const rows = await fetch(keys);
    const m = new Map<K, V[]>();
    for (const r of rows) {
      const k = parentOf(r);
      let list = m.get(k);
      if (!list) m.set(k, (list = []));
      list.push(r);
      onLoad?.(r);
    }
    return keys.map((k) => m.get(k) ?? []);
  });
}

export function createLoaders(pool: ConnectionPool, access: Access): Loaders {
  // Fetches by id cut to the caller's scope (see `scoped`).
  const only = <V extends { id: number }>(
    ids: (s: CustomerScope) => ReadonlySet<number>,
    fetch: (db: ConnectionPool, keys: readonly number[]) => Promise<V[]>,
  ) => scoped(access, ids, (keys: readonly number[]) => fetch(pool, keys));
  // Each meter look-up primes the other meter loaders, so `meters { servicePoint { meters } }`
  // and repeated serials cost no further queries.
  const primeMeter = (m: MeterRecord) => {
    loaders.meterById.prime(m.id, m);
    loaders.meterBySerial.prime(m.serial, m);
  };
  const loaders: Loaders = {
    meterById: byKey(
      only((s) => s.meterIds, metersByIds),
      (m) => m.id,
      (m) => loaders.meterBySerial.prime(m.serial, m),
    ),
    meterBySerial: byKey(
      scoped(
        access,
        (s) => s.meterIds,
        (k: readonly string[]) => metersBySerials(pool, k),
      ),
      (m) => m.serial,
      (m) => loaders.meterById.prime(m.id, m),
    ),
    substation: byKey(
      only((s) => s.substationIds, substationsByIds),
      (r) => r.id,
    ),
    feeder: byKey(
      only((s) => s.feederIds, feedersByIds),
      (r) => r.id,
    ),
    transformer: byKey(
      only((s) => s.transformerIds, transformersByIds),
      (r) => r.id,
    ),
    servicePoint: byKey(
      only((s) => s.servicePointIds, servicePointsByIds),
      (r) => r.id,
    ),
    account: byKey(
      only((s) => s.accountIds, accountsByIds),
      (r) => r.id,
    ),
    feedersBySubstation: grouped(
      only((s) => s.feederIds, feedersBySubstation),
      (r) => r.substationId,
      (r) => loaders.feeder.prime(r.id, r),
    ),
    transformersByFeeder: grouped(
      only((s) => s.transformerIds, transformersByFeeder),
      (r) => r.feederId,
      (r) => loaders.transformer.prime(r.id, r),
    ),
    servicePointsByTransformer: grouped(
      only((s) => s.servicePointIds, servicePointsByTransformer),
      (r) => r.transformerId,
      (r) => loaders.servicePoint.prime(r.id, r),
    ),
    metersByServicePoint: grouped(
      only((s) => s.meterIds, metersByServicePoint),
      (m) => m.servicePointId,
      primeMeter,
    ),
    metersByTransformer: grouped(
      only((s) => s.meterIds, metersByTransformer),
      (m) => m.transformerId,
      primeMeter,
    ),
    // Storage looks codes up one at a time; the loader at least de-duplicates them per request.
    idByCode: new DataLoader<string, number | null>((keys) =>
      Promise.all(
        keys.map((k) => {
          const sep = k.indexOf(':');
          return nodeIdByCode(pool, k.slice(0, sep) as CodeTable, k.slice(sep + 1));
        }),
      ),
    ),
  };
  return loaders;
}

/** Primes the loaders with meters loaded some other way (a page of the meters query). */
export function primeMeters(ctx: Context, meters: readonly MeterRecord[]): void {
  for (const m of meters) {
    ctx.loaders.meterById.prime(m.id, m);
    ctx.loaders.meterBySerial.prime(m.serial, m);
  }
}
