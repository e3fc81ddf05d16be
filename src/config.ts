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
  /** MD_VEE=on|off (default on): run the VEE rules on every ingested chunk. */
  vee: boolean;
  production: boolean;
  logLevel: string;

  // --- access (README "Security") ---
  /** HS256 secret for JWTs (at least 32 bytes); unset → no HS256 tokens. */
  jwtSecret: string | undefined;
  /** JWKS URL of an identity provider for RS256 (or ES256) JWTs; unset → none. */
  jwksUrl: string | undefined;
  /** Accepted JWT algorithms; default HS256 with a secret, RS256 with a JWKS URL. */
  jwtAlgorithms: string[];
  /** Required `iss` / `aud` of JWTs, when set. */
  jwtIssuer: string | undefined;
  jwtAudience: string | undefined;
  /** Claim holding the roles (an array, or one role as a string). */
  jwtRolesClaim: string;
  /** Claim holding a customer's account codes. */
  jwtAccountsClaim: string;
  /** Production without JWT settings is allowed only when this is set: API keys only. */
  allowApiKeysOnly: boolean;
  /** Schema introspection; unset → on outside production, off in production. */
  introspection: boolean | undefined;
  /** "Did you mean …" in validation errors; unset → on outside production, off in production. */
  fieldSuggestions: boolean | undefined;
  /** Deepest field nesting of an operation. */
  maxDepth: number;
  /** Most aliases in an operation. */
  maxAliases: number;
  /** Most lexical tokens in a document. */
  maxTokens: number;
  /** Most directives in an operation. */
  maxDirectives: number;
  /** Highest estimated cost of an operation (see README "Security"). */
  maxCost: number;
  /** Token bucket per identity (or per address before authentication): refill per second; 0 = off. */
  rateLimitPerSecond: number;
  /** Token bucket capacity (the burst). */
  rateLimitBurst: number;
  /** Subscriptions one WebSocket connection may hold at once. */
  maxSubscriptionsPerConnection: number;
  /** How often a WebSocket connection's API key is re-checked (revocation), seconds; 0 = never. */
  wsRecheckSeconds: number;
  /** Privacy rule for aggregates seen by planners and customers: fewest customers in a group … */
  aggregateMinCustomers: number;
  /** … and the share of the group's energy no single customer may reach, percent. */
  aggregateMaxSharePercent: number;
}

function boolFromEnv<T extends boolean | undefined>(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: T,
): boolean | T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error(`${name} must be 1 or 0 (got ${JSON.stringify(raw)})`);
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

/** Whether introspection and field suggestions are on: as configured, else off in production. */
export function introspectionOn(c: Pick<Config, 'introspection' | 'production'>): boolean {
  return c.introspection ?? !c.production;
}
export function suggestionsOn(c: Pick<Config, 'fieldSuggestions' | 'production'>): boolean {
  return c.fieldSuggestions ?? !c.production;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const jwtSecret = env.MD_JWT_SECRET || undefined;
  const jwksUrl = env.MD_JWKS_URL || undefined;
  const algorithms = (env.MD_JWT_ALGORITHMS ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
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
    vee: boolFromEnv(env, 'MD_VEE', true),
    production,
    logLevel: env.LOG_LEVEL ?? 'info',
    jwtSecret,
    jwksUrl,
    jwtAlgorithms: algorithms.length
      ? algorithms
      : [...(jwtSecret || !jwksUrl ? ['HS256'] : []), ...(jwksUrl ? ['RS256'] : [])],
    jwtIssuer: env.MD_JWT_ISSUER || undefined,
    jwtAudience: env.MD_JWT_AUDIENCE || undefined,
    jwtRolesClaim: env.MD_JWT_ROLES_CLAIM || 'roles',
    jwtAccountsClaim: env.MD_JWT_ACCOUNTS_CLAIM || 'accounts',
    allowApiKeysOnly: boolFromEnv(env, 'MD_ALLOW_API_KEYS_ONLY', false),
    introspection: boolFromEnv(env, 'MD_INTROSPECTION', undefined),
    fieldSuggestions: boolFromEnv(env, 'MD_FIELD_SUGGESTIONS', undefined),
    maxDepth: intFromEnv(env, 'MD_MAX_DEPTH', 8),
    maxAliases: intFromEnv(env, 'MD_MAX_ALIASES', 15),
    maxTokens: intFromEnv(env, 'MD_MAX_TOKENS', 3000),
    maxDirectives: intFromEnv(env, 'MD_MAX_DIRECTIVES', 20),
    maxCost: intFromEnv(env, 'MD_MAX_COST', 25000),
    rateLimitPerSecond: intFromEnv(env, 'MD_RATE_LIMIT_PER_SECOND', 50),
    rateLimitBurst: intFromEnv(env, 'MD_RATE_LIMIT_BURST', 200),
    maxSubscriptionsPerConnection: intFromEnv(env, 'MD_MAX_SUBSCRIPTIONS', 10),
    wsRecheckSeconds: intFromEnv(env, 'MD_WS_RECHECK_SECONDS', 60),
    aggregateMinCustomers: intFromEnv(env, 'MD_AGG_MIN_CUSTOMERS', 15),
    aggregateMaxSharePercent: intFromEnv(env, 'MD_AGG_MAX_SHARE_PERCENT', 15),
  };
}
