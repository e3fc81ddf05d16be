/**
 * One typed configuration object, read from the environment once. Every setting has a
 * documented default (see README "Configuration").
 */
import path from 'node:path';

export interface Config {
  /** PostgreSQL ≥ 15 connection string; unset → embedded PGlite under dataDir. */
  databaseUrl: string | undefined;
  /** Redis connection string for the queue and pub/sub; unset → in-process implementation. */
  redisUrl: string | undefined;
  /** Where the embedded database keeps its files. */
  dataDir: string;
  host: string;
  port: number;
  /** Connection pool size for a real PostgreSQL (the embedded database always uses 1). */
  poolSize: number;
  /** Hash sub-partitions per month of the reading store. Fixed when a month is first created. */
  meterHashPartitions: number;
  /** Largest range one readings query may ask for, in days. */
  maxRangeDays: number;
  /** Largest range the per-interval (non-columnar) readings list may ask for, in days. */
  maxIntervalItemsDays: number;
  /** Largest batch accepted by the ingestReadings mutation. */
  maxMutationBatch: number;
  /** How far in the future (seconds) an interval may end before it is rejected. */
  clockToleranceSeconds: number;
  /** Statement timeout for API queries, milliseconds. */
  statementTimeoutMs: number;
  production: boolean;
  logLevel: string;
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`${name} must be a non-negative integer (got ${JSON.stringify(raw)})`);
  }
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    dataDir: path.resolve(env.MD_DATA_DIR ?? 'data'),
    host: env.HOST ?? '127.0.0.1',
    port: intFromEnv(env, 'PORT', 4000),
    poolSize: intFromEnv(env, 'MD_POOL_SIZE', 8),
    meterHashPartitions: intFromEnv(env, 'MD_METER_PARTITIONS', 4),
    maxRangeDays: intFromEnv(env, 'MD_MAX_RANGE_DAYS', 400),
    maxIntervalItemsDays: intFromEnv(env, 'MD_MAX_INTERVAL_ITEMS_DAYS', 7),
    maxMutationBatch: intFromEnv(env, 'MD_MAX_MUTATION_BATCH', 50000),
    clockToleranceSeconds: intFromEnv(env, 'MD_CLOCK_TOLERANCE_SECONDS', 3600),
    statementTimeoutMs: intFromEnv(env, 'MD_STATEMENT_TIMEOUT_MS', 30000),
    production: env.NODE_ENV === 'production',
    logLevel: env.LOG_LEVEL ?? 'info',
  };
}
