/**
 * Per-request context: the caller's request id, the pool, config, a scoped logger, the
 * pub/sub, and DataLoaders created fresh for each request (so nothing is cached across
 * requests, and every look-up within one is batched into a set-based query).
 */
import crypto from 'node:crypto';
import { type ConnectionPool } from '@databases/pg';
import DataLoader from 'dataloader';
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
  loaders: Loaders;
}

const REQUEST_ID_RE = /^[\w.:-]{1,128}$/;

/** A new context; `requestId` from the caller (x-request-id) when it is a sane token. */
export function createContext(deps: ContextDeps, requestId?: string | null): Context {
  const id = requestId && REQUEST_ID_RE.test(requestId) ? requestId : crypto.randomUUID();
  return {
    ...deps,
    logger: deps.logger.child({ requestId: id }),
    requestId: id,
    loaders: createLoaders(deps.pool),
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

export function createLoaders(pool: ConnectionPool): Loaders {
  // Each meter look-up primes the other meter loaders, so `meters { servicePoint { meters } }`
  // and repeated serials cost no further queries.
  const primeMeter = (m: MeterRecord) => {
    loaders.meterById.prime(m.id, m);
    loaders.meterBySerial.prime(m.serial, m);
  };
  const loaders: Loaders = {
    meterById: byKey(
      (ids) => metersByIds(pool, ids),
      (m) => m.id,
      (m) => loaders.meterBySerial.prime(m.serial, m),
    ),
    meterBySerial: byKey(
      (s) => metersBySerials(pool, s),
      (m) => m.serial,
      (m) => loaders.meterById.prime(m.id, m),
    ),
    substation: byKey(
      (ids) => substationsByIds(pool, ids),
      (r) => r.id,
    ),
    feeder: byKey(
      (ids) => feedersByIds(pool, ids),
      (r) => r.id,
    ),
    transformer: byKey(
      (ids) => transformersByIds(pool, ids),
      (r) => r.id,
    ),
    servicePoint: byKey(
      (ids) => servicePointsByIds(pool, ids),
      (r) => r.id,
    ),
    account: byKey(
      (ids) => accountsByIds(pool, ids),
      (r) => r.id,
    ),
    feedersBySubstation: grouped(
      (ids) => feedersBySubstation(pool, ids),
      (r) => r.substationId,
      (r) => loaders.feeder.prime(r.id, r),
    ),
    transformersByFeeder: grouped(
      (ids) => transformersByFeeder(pool, ids),
      (r) => r.feederId,
      (r) => loaders.transformer.prime(r.id, r),
    ),
    servicePointsByTransformer: grouped(
      (ids) => servicePointsByTransformer(pool, ids),
      (r) => r.transformerId,
      (r) => loaders.servicePoint.prime(r.id, r),
    ),
    metersByServicePoint: grouped(
      (ids) => metersByServicePoint(pool, ids),
      (m) => m.servicePointId,
      primeMeter,
    ),
    metersByTransformer: grouped(
      (ids) => metersByTransformer(pool, ids),
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
