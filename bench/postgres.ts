/**
 * The benchmark's own PostgreSQL 15 cluster, started and stopped with the functions of
 * .ci/services.sh (run as the postgres user when we are root), plus psql and SQL helpers.
 */
import fs from 'node:fs';
import path from 'node:path';
import createConnectionPool, { sql, type ConnectionPool } from '@databases/pg';
import { onCleanup, runOk, spawnSync } from './children';
import { log } from './util';

export interface Cluster {
  /** postgres://postgres@127.0.0.1:PORT */
  baseUrl: string;
  port: number;
  dir: string;
  version: string;
  settings: Record<string, string>;
  urlFor(database: string): string;
  stop(): Promise<void>;
}

function servicesScript(root: string): string {
  const p = path.join(root, '.ci', 'services.sh');
  if (!fs.existsSync(p)) throw new Error(`${p} not found: the harness starts PostgreSQL with it`);
  return p;
}

const bashFn = (script: string, fn: string) => `source ${JSON.stringify(script)} && ${fn} "$1"`;

export async function startCluster(root: string, dir: string): Promise<Cluster> {
  const script = servicesScript(root);
  fs.mkdirSync(dir, { recursive: true });
  const stopArgs = ['-c', bashFn(script, 'md_stop_postgres'), 'bash', dir];
  // Registered before the start, so a half-started cluster is stopped too.
  const stop = onCleanup(
    'PostgreSQL',
    async () => {
      await runOk('bash', stopArgs, { duringCleanup: true }).catch((err) =>
        log(`stopping PostgreSQL: ${err.message}`),
      );
    },
    () => {
      spawnSync('bash', stopArgs, { stdio: 'ignore' });
    },
  );
  const r = await runOk('bash', ['-c', bashFn(script, 'md_start_postgres'), 'bash', dir]);
  const baseUrl = r.stdout
    .trim()
    .split('\n')
    .pop()!
    .replace(/\/postgres$/, '');
  if (!/^postgres:\/\/postgres@127\.0\.0\.1:\d+$/.test(baseUrl)) {
    throw new Error(`md_start_postgres printed an unexpected URL: ${JSON.stringify(r.stdout)}`);
  }
  const port = Number(baseUrl.split(':').pop());
  const urlFor = (database: string) => `${baseUrl}/${database}`;
  const admin = pool(urlFor('postgres'), 1);
  try {
    const [{ v }] = await admin.query(sql`SELECT current_setting('server_version') AS v`);
    const rows: Array<{ name: string; setting: string; unit: string | null }> = await admin.query(
      sql`SELECT name, setting, unit FROM pg_settings
          WHERE name IN ('shared_buffers', 'work_mem', 'max_wal_size', 'fsync',
                         'synchronous_commit', 'effective_cache_size', 'max_parallel_workers_per_gather')`,
    );
    const settings: Record<string, string> = {};
    for (const s of rows) settings[s.name] = s.unit ? `${s.setting} (${s.unit})` : s.setting;
    return { baseUrl, port, dir, version: v, settings, urlFor, stop };
  } finally {
    await admin.dispose();
  }
}

/** A pool that is disposed with the other cleanups (before the cluster stops). */
export function pool(url: string, size = 2): ConnectionPool {
  const p = createConnectionPool({
    connectionString: url,
    poolSize: size,
    bigIntMode: 'number',
    applicationName: 'meterdata-bench',
    // Idle connections die when the cluster is stopped on an interrupt; that is expected.
    onError: () => {},
  });
  const dispose = p.dispose.bind(p);
  p.dispose = onCleanup('connection pool', dispose, () => {});
  return p;
}

export async function createDatabase(cluster: Cluster, name: string): Promise<void> {
  const admin = pool(cluster.urlFor('postgres'), 1);
  try {
    await admin.query(sql`DROP DATABASE IF EXISTS ${sql.ident(name)}`);
    await admin.query(sql`CREATE DATABASE ${sql.ident(name)}`);
  } finally {
    await admin.dispose();
  }
}

/** psql against one database (client side: files named in \copy are read by this process' user). */
/** Drops a database, closing whatever connections it still has. */
export async function dropDatabase(cluster: Cluster, name: string): Promise<void> {
  const admin = pool(cluster.urlFor('postgres'), 1);
  try {
    await admin.query(sql`DROP DATABASE IF EXISTS ${sql.ident(name)} WITH (FORCE)`);
  } finally {
    await admin.dispose();
  }
}

export function psql(cluster: Cluster, database: string, command: string) {
  return runOk('psql', [
    '-X',
    '-q',
    '-v',
    'ON_ERROR_STOP=1',
    '-h',
    '127.0.0.1',
    '-p',
    String(cluster.port),
    '-U',
    'postgres',
    '-d',
    database,
    '-c',
    command,
  ]);
}

/** Bytes of every leaf partition (heap, TOAST and indexes) under each of `tables`. */
export async function relationBytes(
  db: ConnectionPool,
  tables: readonly string[],
): Promise<{ bytes: number; heapBytes: number; indexBytes: number; partitions: number }> {
  const [r] = await db.query(sql`
    SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0)::float8 AS total,
           coalesce(sum(pg_table_size(t.relid)), 0)::float8 AS heap,
           coalesce(sum(pg_indexes_size(t.relid)), 0)::float8 AS idx,
           count(*)::int AS n
    FROM unnest(${tables}::regclass[]) AS root(rel),
         LATERAL pg_partition_tree(root.rel) AS t
    WHERE t.isleaf`);
  return { bytes: r.total, heapBytes: r.heap, indexBytes: r.idx, partitions: r.n };
}

/** The current WAL position, for walSince(). */
export async function walLsn(db: ConnectionPool): Promise<string> {
  const [r] = await db.query(sql`SELECT pg_current_wal_lsn()::text AS lsn`);
  return r.lsn;
}

/** WAL bytes written (by the whole cluster) since `lsn`. */
export async function walSince(db: ConnectionPool, lsn: string): Promise<number> {
  const [r] = await db.query(
    sql`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), ${lsn}::pg_lsn)::float8 AS b`,
  );
  return Math.round(r.b);
}
