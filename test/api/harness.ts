/**
 * API test harness: a fresh migrated database with the small topology, a gateway built on it,
 * and `gql()` running operations through `apollo.executeOperation` (results JSON round-tripped,
 * so DateTimes read as the ISO strings clients see) as an admin; `as(role)` runs them as
 * another identity.
 */
import { type ConnectionPool } from '@databases/pg';
import pino from 'pino';
import { internalIdentity, type Identity, type Role } from '../../src/auth';
import { loadConfig, type Config } from '../../src/config';
import { createContext, type Context } from '../../src/context';
import { type Logger } from '../../src/logger';
import { createGateway, type Gateway } from '../../src/server';
import { upsertTopology } from '../../src/storage/topology';
import { openTestDatabase, type TestDatabase } from '../helpers/db';
import { smallTopology } from '../helpers/fixtures';
import { ADMIN } from '../auth/tokens';

/** Results are asserted on field by field; a loose type keeps the tests readable. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface GqlResult<T = Json> {
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, Json> }>;
}

export interface Api {
  db: TestDatabase;
  gw: Gateway;
  config: Config;
  /** JSON log lines written so far */
  logs: Array<Record<string, Json>>;
  gql<T = Json>(
    query: string,
    variables?: Record<string, unknown>,
    context?: Context,
  ): Promise<GqlResult<T>>;
  /** `gql` as another identity (a role, with a customer's accounts). */
  as(
    who: Role | Identity,
    opts?: { accounts?: string[] },
  ): <T = Json>(query: string, variables?: Record<string, unknown>) => Promise<GqlResult<T>>;
  /** A context whose pool counts the queries it runs (as an admin, unless told otherwise). */
  countingContext(identity?: Identity): { ctx: Context; count: () => number };
  close(): Promise<void>;
}

export function memoryLogger(lines: Array<Record<string, Json>>): Logger {
  return pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
}

export async function openApi(overrides: Partial<Config> = {}): Promise<Api> {
  const db = await openTestDatabase();
  await upsertTopology(db.pool, smallTopology());
  const config: Config = { ...loadConfig({}), ...overrides };
  const logs: Array<Record<string, Json>> = [];
  const logger = memoryLogger(logs);
  const gw = await createGateway({ config, logger, db });
  await gw.apollo.start();
  const gql = async <T>(
    query: string,
    variables?: Record<string, unknown>,
    context?: Context,
  ): Promise<GqlResult<T>> => {
    const res = await gw.apollo.executeOperation(
      { query, ...(variables ? { variables } : {}) },
      { contextValue: context ?? gw.context(undefined, ADMIN) },
    );
    if (res.body.kind !== 'single') throw new Error('expected a single result');
    return JSON.parse(JSON.stringify(res.body.singleResult)) as GqlResult<T>;
  };
  return {
    db,
    gw,
    config,
    logs,
    gql,
    as(who, opts = {}) {
      const identity =
        typeof who === 'string'
          ? internalIdentity(who, { ...(opts.accounts ? { accounts: opts.accounts } : {}) })
          : who;
      return (query, variables) => gql(query, variables, gw.context(undefined, identity));
    },
    countingContext(identity = ADMIN) {
      let n = 0;
      const pool = new Proxy(db.pool, {
        get(target, key) {
          const v = Reflect.get(target, key, target);
          if (key === 'query') {
            return (...args: unknown[]) => {
              n++;
              return (v as (...a: unknown[]) => unknown).apply(target, args);
            };
          }
          return typeof v === 'function' ? v.bind(target) : v;
        },
      }) as ConnectionPool;
      return { ctx: createContext({ ...gw.deps, pool }, undefined, identity), count: () => n };
    },
    async close() {
      await gw.apollo.stop();
      await db.close();
    },
  };
}

/** Readings of one meter at a fixed interval from `startIso`, value f(i). */
export function readings(
  serial: string,
  startIso: string,
  n: number,
  f: (i: number) => number,
  opts: { intervalSeconds?: number; channel?: string; quality?: (i: number) => number | null } = {},
) {
  const step = (opts.intervalSeconds ?? 900) * 1000;
  const t0 = Date.parse(startIso);
  return Array.from({ length: n }, (_, i) => ({
    meterSerial: serial,
    channel: opts.channel ?? 'delivered',
    intervalStart: new Date(t0 + i * step).toISOString(),
    intervalSeconds: opts.intervalSeconds ?? 900,
    value: f(i),
    unit: 'kWh',
    quality: opts.quality ? opts.quality(i) : null,
  }));
}
