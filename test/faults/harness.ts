/**
 * What every fault test shares: its own PostgreSQL cluster and Redis server (so it can stop
 * and start them), a migrated database with a simulated topology, CSV files in the documented
 * layout with a known number of distinct readings, landing through the real Redis queue,
 * worker processes of the built CLI, and the exact-count checks.
 */
import fs from 'node:fs';
import createConnectionPool, { sql, type ConnectionPool } from '@databases/pg';
import { createSimulation, NO_FAULTS } from '../../src/domain/simulate';
import { RedisQueue } from '../../src/ingest/queue';
import { receiveFile, type ReceiveResult } from '../../src/ingest/landing';
import { importTopology } from '../../src/ingest/topology';
import { filesByIds, type FileRecord, unpublishPending } from '../../src/storage/landing';
import { migrate } from '../../src/storage/migrate';
import {
  type CliProcess,
  killAllCli,
  type PostgresServer,
  type RedisServer,
  spawnCli,
  startPostgres,
  startRedis,
  tempDir,
  waitFor,
} from '../helpers/processes';

/**
 * The fault tests need servers they can crash and a worker in another process. They run in
 * the CI's real-server pass (DATABASE_URL and REDIS_URL set, so PostgreSQL and Redis are
 * installed); with the embedded default they are skipped: the embedded database lives inside
 * one process, so a separate worker process cannot share it, and it cannot be crashed alone.
 */
export const faultsEnabled = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
export const describeFaults = faultsEnabled ? describe : describe.skip;

/** Per test: generous, since servers start and stop and processes are spawned. */
export const FAULT_TIMEOUT = 120_000;

/**
 * Bytes per stored part, and so per chunk (about 500 rows of the simulated CSV): small, so a
 * file has many chunks and a crash lands mid-file.
 */
export const PART_BYTES = 28_000;

export interface SimFile {
  csv: string;
  /** distinct (meter, channel, interval) readings that should be stored */
  readings: number;
  /** rows that should be rejected (one at parsing, one by the worker) */
  rejected: number;
}

const HEADER = 'meter_serial,channel,interval_start,interval_seconds,value,unit\n';

/**
 * A simulated fleet's readings as CSV, fault-free, plus two bad rows in the middle: a value
 * the parser rejects and a meter the worker rejects. `seed`/`start` make files distinct.
 */
export function simulatedCsv(opts: {
  meters: number;
  days: number;
  seed: number;
  start: string;
}): SimFile {
  const sim = simulation(opts);
  const lines: string[] = [];
  const keys = new Set<string>();
  for (const batch of sim.batches()) {
    for (const r of batch) {
      const ts = new Date(r.intervalStart).toISOString().replace('.000Z', 'Z');
      keys.add(`${r.meterSerial}|${r.channel}|${r.intervalStart}`);
      lines.push(`${r.meterSerial},${r.channel},${ts},${r.intervalSeconds},${r.value},${r.unit}`);
    }
  }
  const mid = Math.floor(lines.length / 2);
  const [serial, , ts] = lines[mid]!.split(',');
  lines.splice(
    mid,
    0,
    `${serial},delivered,${ts},900,NaN,kWh`,
    `NO-SUCH-METER,delivered,${ts},900,1.5,kWh`,
  );
  return { csv: HEADER + lines.join('\n') + '\n', readings: keys.size, rejected: 2 };
}

function simulation(opts: { meters: number; days: number; seed: number; start: string }) {
  return createSimulation({
    meters: opts.meters,
    days: opts.days,
    // One fleet (topology) for every file of a test; only the readings' start differs.
    seed: opts.seed,
    start: Date.parse(opts.start),
    faultRates: NO_FAULTS,
  });
}

export async function* bytes(s: string, piece = 64 * 1024): AsyncGenerator<Buffer> {
  const b = Buffer.from(s);
  for (let i = 0; i < b.length; i += piece) yield b.subarray(i, i + piece);
}

export function openPool(url: string): ConnectionPool {
  return createConnectionPool({ connectionString: url, poolSize: 4, bigIntMode: 'number' });
}

/** A migrated database on `url` holding the simulated topology of `seed`. */
export async function prepareDatabase(url: string, fleet: FleetSpec): Promise<void> {
  const pool = openPool(url);
  try {
    await migrate(pool);
    await importTopology(pool, simulation({ ...fleet, start: FLEET_START }).fleet.topology);
  } finally {
    await pool.dispose();
  }
}

export interface FleetSpec {
  meters: number;
  days: number;
  seed: number;
}

/** The topology is the same whatever the readings' start; it is built from this one. */
const FLEET_START = '2025-03-03T00:00:00Z';

export interface FaultEnv {
  dir: string;
  pg: PostgresServer;
  redis: RedisServer;
  /** the test's own connection pool (reopen it after PostgreSQL restarts) */
  pool: ConnectionPool;
  /** the Redis queue, as the API and the CLI use it (default stream and group) */
  queue: RedisQueue;
  fleet: FleetSpec;
  /** a file of the fleet's readings starting at `start` */
  file(start?: string): SimFile;
  land(file: SimFile, queue?: RedisQueue): Promise<ReceiveResult>;
  /** `meterdata worker` in a child process, on this environment's servers */
  worker(args?: string[], env?: NodeJS.ProcessEnv): CliProcess;
  reopenPool(): Promise<void>;
  close(): Promise<void>;
}

export const CLAIM_IDLE_MS = 500;

export async function openFaultEnv(
  prefix: string,
  fleet: FleetSpec = { meters: 20, days: 2, seed: 7 },
): Promise<FaultEnv> {
  const dir = tempDir(`meterdata-${prefix}-`);
  const pg = await startPostgres(`${dir}/pg`);
  let redis: RedisServer | undefined;
  try {
    redis = await startRedis(`${dir}/redis`);
    await prepareDatabase(pg.url, fleet);
  } catch (err) {
    await redis?.stop().catch(() => {});
    await pg.stop().catch(() => {});
    throw new Error(`setting up the servers in ${dir} failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const r = redis;
  const pool = openPool(pg.url);
  const env: FaultEnv = {
    dir,
    pg,
    redis: r,
    pool,
    queue: new RedisQueue({
      url: r.url,
      claimIdleMs: CLAIM_IDLE_MS,
      onStreamLost: () => unpublishPending(pool),
    }),
    fleet,
    file: (start = FLEET_START) => simulatedCsv({ ...fleet, start }),
    land: (file, queue) =>
      receiveFile(
        env.pool,
        bytes(file.csv),
        { source: 'fault-test', format: 'csv', fileName: 'readings.csv' },
        { maxBytes: 1 << 30, partBytes: PART_BYTES, queue: queue ?? env.queue },
      ),
    worker: (args = [], extra = {}) =>
      spawnCli(['worker', ...args], {
        DATABASE_URL: pg.url,
        REDIS_URL: r.url,
        MD_QUEUE_CLAIM_IDLE_MS: String(CLAIM_IDLE_MS),
        MD_POOL_SIZE: '4',
        LOG_LEVEL: 'warn',
        ...extra,
      }),
    async reopenPool() {
      await env.pool.dispose().catch(() => {});
      env.pool = openPool(pg.url);
    },
    async close() {
      await killAllCli();
      await env.queue.close().catch(() => {});
      await env.pool.dispose().catch(() => {});
      await r.stop().catch(() => {});
      await pg.stop().catch(() => {});
      // Server logs stay for a look with CI_KEEP_TMP=1, as in .ci/run.
      if (!process.env.CI_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return env;
}

// ---------------------------------------------------------------------------------------------
// Checks

export async function fileRecord(pool: ConnectionPool, fileId: number): Promise<FileRecord> {
  const [f] = await filesByIds(pool, [fileId]);
  if (!f) throw new Error(`file ${fileId} not found`);
  return f;
}

export async function waitForFile(
  pool: ConnectionPool,
  fileId: number,
  statuses: FileRecord['status'][] = ['done', 'failed'],
  timeoutMs = 60_000,
  worker?: CliProcess,
): Promise<FileRecord> {
  try {
    return await waitFor(
      `file ${fileId} to be ${statuses.join(' or ')}`,
      async () => {
        const f = await fileRecord(pool, fileId);
        return statuses.includes(f.status) ? f : null;
      },
      { timeoutMs, intervalMs: 200 },
    );
  } catch (err) {
    if (!worker) throw err;
    throw new Error(`${(err as Error).message}\nworker output (tail):\n${tail(worker)}`, {
      cause: err,
    });
  }
}

/** The end of a worker's output, for failure messages. */
export function tail(p: CliProcess, chars = 6000): string {
  const out = p.output();
  return out.length > chars ? `…${out.slice(-chars)}` : out;
}

/** Readings present in the store: non-null intervals over every day row. */
export async function storedReadings(pool: ConnectionPool): Promise<number> {
  const [r] = await pool.query(sql`
    SELECT coalesce(sum(cardinality(array_remove(vals, NULL))), 0)::bigint AS n FROM reading_day`);
  return Number(r.n);
}

export async function historyRows(pool: ConnectionPool): Promise<number> {
  const [r] = await pool.query(sql`SELECT count(*)::bigint AS n FROM reading_history`);
  return Number(r.n);
}

export async function chunkStatuses(
  pool: ConnectionPool,
  fileId: number,
): Promise<Record<string, number>> {
  const rows: Array<{ status: string; n: number }> = await pool.query(sql`
    SELECT status, count(*)::int AS n FROM ingest_chunk WHERE file_id = ${fileId} GROUP BY status`);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/**
 * The invariant of every fault case: the file is done with exact counts, the store holds each
 * reading once, and nothing was written twice (a second write of the same value would be
 * "unchanged"; of another value, a history row).
 */
export async function expectExactlyOnce(
  pool: ConnectionPool,
  fileId: number,
  file: SimFile,
  already = 0,
): Promise<void> {
  const f = await fileRecord(pool, fileId);
  expect({
    status: f.status,
    accepted: f.accepted,
    unchanged: f.unchanged,
    changed: f.changed,
    rejected: f.rejected,
    chunksDone: f.chunksDone,
    errorCode: f.errorCode,
  }).toEqual({
    status: 'done',
    accepted: file.readings,
    unchanged: 0,
    changed: 0,
    rejected: file.rejected,
    chunksDone: f.chunksTotal,
    errorCode: null,
  });
  expect(await storedReadings(pool)).toBe(already + file.readings);
  expect(await historyRows(pool)).toBe(0);
}

/** Entries pending in the consumer group and entries left in the stream. */
export async function streamState(
  queue: RedisQueue,
  redis: RedisServer,
): Promise<{ pending: number; length: number; dead: number }> {
  const pending = (await redis.cli('XPENDING', queue.stream, queue.group)).trim().split('\n')[0];
  const length = (await redis.cli('XLEN', queue.stream)).trim();
  const dead = (await redis.cli('XLEN', queue.deadStream)).trim();
  return { pending: Number(pending), length: Number(length), dead: Number(dead) };
}
