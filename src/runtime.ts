/**
 * Opens what every command needs: configuration, logger, the database (embedded or
 * DATABASE_URL) with migrations applied. `serve`, `worker` and the CLI commands share it.
 */
import { loadConfig, type Config } from './config';
import { createLogger, type Logger } from './logger';
import { openDatabase, type Database } from './storage/db';
import { migrate } from './storage/migrate';
import { createQueue, type JobQueue } from './ingest/queue';

export interface Runtime {
  config: Config;
  logger: Logger;
  db: Database;
  /** The ingest queue: Redis Streams with REDIS_URL, else the in-process queue. */
  queue: JobQueue;
  close(): Promise<void>;
}

export async function openRuntime(
  opts: { config?: Config; logger?: Logger; migrate?: boolean } = {},
): Promise<Runtime> {
  const config = opts.config ?? loadConfig();
  const logger = opts.logger ?? createLogger(config.logLevel);
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.poolSize,
  });
  try {
    if (opts.migrate !== false) {
      const r = await migrate(db.pool);
      if (r.applied.length) logger.info({ applied: r.applied }, 'migrations applied');
    }
  } catch (err) {
    await db.close();
    throw err;
  }
  const queue = createQueue(db.pool, {
    redisUrl: config.redisUrl,
    claimIdleMs: config.queueClaimIdleMs,
    leaseSeconds: config.queueLeaseSeconds,
  });
  return {
    config,
    logger,
    db,
    queue,
    async close() {
      await queue.close();
      await db.close();
    },
  };
}
