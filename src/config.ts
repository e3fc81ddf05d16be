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
  /** Largest head-end file the landing accepts, bytes. */
  maxFileBytes: number;
  /** Readings per staged chunk (the unit of queueing and of one worker transaction). */
  ingestChunkSize: number;
  /** Deliveries after which a chunk is dead-lettered and its file marked failed. */
  maxDeliveries: number;
  /** A Redis entry pending this long with a consumer is reclaimed by another, ms. */
  queueClaimIdleMs: number;
  /** The in-process queue's lease on a chunk, seconds. */
  queueLeaseSeconds: number;
  /** Rejections kept per file (all are counted). */
  keepRejections: number;
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
    maxFileBytes: intFromEnv(env, 'MD_MAX_FILE_BYTES', 4 * 1024 ** 3),
    ingestChunkSize: intFromEnv(env, 'MD_INGEST_CHUNK', 20000),
    maxDeliveries: intFromEnv(env, 'MD_MAX_DELIVERIES', 5),
    queueClaimIdleMs: intFromEnv(env, 'MD_QUEUE_CLAIM_IDLE_MS', 30000),
    queueLeaseSeconds: intFromEnv(env, 'MD_QUEUE_LEASE_SECONDS', 60),
    keepRejections: intFromEnv(env, 'MD_KEEP_REJECTIONS', 1000),
    production: env.NODE_ENV === 'production',
    logLevel: env.LOG_LEVEL ?? 'info',
  };
}
