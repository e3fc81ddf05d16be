/**
 * Opens the store: a real PostgreSQL (DATABASE_URL) or the embedded PGlite served on loopback
 * through pglite-socket, so the same SQL and the same driver (@databases/pg) serve both.
 */
import fs from 'node:fs';
import createConnectionPool, { type ConnectionPool, type SQLQuery } from '@databases/pg';

export interface Database {
  pool: ConnectionPool;
  /** The connection string the pool uses (loopback socket for the embedded database). */
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

export interface OpenOptions {
  databaseUrl?: string | undefined;
  /** Directory for the embedded database; undefined → in memory (tests). */
  dataDir?: string | undefined;
  poolSize?: number;
  statementTimeoutMs?: number;
  applicationName?: string;
  /** called with every statement as it is sent (diagnostics, and tests that check plans) */
  onQueryStart?: (query: SQLQuery, formatted: { readonly text: string }) => void;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (opts.databaseUrl) {
    const pool = createConnectionPool({
      connectionString: opts.databaseUrl,
      poolSize: opts.poolSize ?? 8,
      bigIntMode: 'number',
      applicationName: opts.applicationName ?? 'meterdata',
      ...(opts.statementTimeoutMs ? { statementTimeoutMilliseconds: opts.statementTimeoutMs } : {}),
      ...(opts.onQueryStart ? { onQueryStart: opts.onQueryStart } : {}),
    });
    return { pool, url: opts.databaseUrl, embedded: false, close: () => pool.dispose() };
  }
  return openEmbedded(opts);
}

async function openEmbedded(opts: OpenOptions): Promise<Database> {
  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-socket'),
  ]);
  if (opts.dataDir) fs.mkdirSync(opts.dataDir, { recursive: true });
  const pg = opts.dataDir ? await PGlite.create(opts.dataDir) : await PGlite.create();
  // One connection: PGlite is a single backend, and the socket server interleaves messages of
  // concurrent connections, so the pool is kept at one connection and queues in the driver.
  const server = new PGLiteSocketServer({ db: pg, port: 0, host: '127.0.0.1', maxConnections: 4 });
  await server.start();
  const url = `postgres://postgres@${server.getServerConn()}/postgres?sslmode=disable`;
  const pool = createConnectionPool({
    connectionString: url,
    poolSize: 1,
    bigIntMode: 'number',
    applicationName: opts.applicationName ?? 'meterdata',
    ...(opts.onQueryStart ? { onQueryStart: opts.onQueryStart } : {}),
  });
  return {
    pool,
    url,
    embedded: true,
    async close() {
      await pool.dispose();
      await server.stop();
      await pg.close();
    },
  };
}
