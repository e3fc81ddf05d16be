/**
 * Opens what every command needs: configuration, logger, the database (embedded or
 * DATABASE_URL) with migrations applied. `serve`, `worker` and the CLI commands share it.
 */
import { loadConfig, type Config } from './config';
import { createLogger, type Logger } from './logger';
import { openDatabase, type Database } from './storage/db';
import { migrate } from './storage/migrate';

export interface Runtime {
  config: Config;
  logger: Logger;
  db: Database;
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
  return { config, logger, db, close: () => db.close() };
}
