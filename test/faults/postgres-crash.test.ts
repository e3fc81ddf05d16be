/**
 * Fault 28: PostgreSQL stopped hard (`pg_ctl -m immediate`, a crash as far as the data files
 * go) while a worker is mid-file. Every committed chunk is whole (readings and "done" mark
 * commit together), the worker rides out the outage, and once PostgreSQL is back the file
 * finishes with exact counts and rows identical to a clean ingest of the same file.
 *
 * Runs in the real-server pass only (DATABASE_URL and REDIS_URL set); see `describeFaults`.
 */
import { sql, type ConnectionPool } from '@databases/pg';
import { PostgresQueue } from '../../src/ingest/queue';
import { receiveFile } from '../../src/ingest/landing';
import { type FileRecord } from '../../src/storage/landing';
import { buildCli, sleep, stopCli, waitFor, waitForExit } from '../helpers/processes';
import {
  bytes,
  chunkStatuses,
  PART_BYTES,
  describeFaults,
  expectExactlyOnce,
  FAULT_TIMEOUT,
  type FaultEnv,
  openFaultEnv,
  openPool,
  prepareDatabase,
  type SimFile,
  tail,
  waitForFile,
} from './harness';

/** Every day row, by meter serial (ids may differ between databases), values and quality. */
async function dayRows(pool: ConnectionPool): Promise<unknown[]> {
  return pool.query(sql`
    SELECT m.serial, d.channel, d.day::text AS day, d.vals::text AS vals, encode(d.quality, 'hex') AS quality
    FROM reading_day d JOIN meter m ON m.id = d.meter_id
    ORDER BY m.serial, d.channel, d.day`);
}

/** Stored readings and the readings counted by done chunks, in one snapshot. */
async function committedState(pool: ConnectionPool): Promise<{ stored: number; counted: number }> {
  const [r] = await pool.query(sql`
    SELECT (SELECT coalesce(sum(cardinality(array_remove(vals, NULL))), 0) FROM reading_day)::int AS stored,
           (SELECT coalesce(sum(accepted), 0) FROM ingest_chunk WHERE status = 'done')::int AS counted`);
  return r;
}

describeFaults('fault 28: PostgreSQL stopped hard during an ingest', () => {
  let env: FaultEnv;
  let referenceUrl: string;

  beforeAll(async () => {
    await buildCli();
    env = await openFaultEnv('f28', { meters: 40, days: 7, seed: 28 });
    await env.pool.query(sql`CREATE DATABASE reference`);
    const url = new URL(env.pg.url);
    url.pathname = '/reference';
    referenceUrl = url.toString();
    await prepareDatabase(referenceUrl, env.fleet);
  }, FAULT_TIMEOUT);
  afterAll(async () => {
    await env?.close();
  }, FAULT_TIMEOUT);

  /** The same file ingested without faults, by a worker on the in-process queue. */
  async function cleanIngest(file: SimFile): Promise<FileRecord> {
    const pool = openPool(referenceUrl);
    try {
      const r = await receiveFile(
        pool,
        bytes(file.csv),
        { source: 'fault-test', format: 'csv', fileName: 'readings.csv' },
        { maxBytes: 1 << 30, partBytes: PART_BYTES, queue: new PostgresQueue(pool) },
      );
      const w = env.worker(['--exit-when-idle'], { DATABASE_URL: referenceUrl, REDIS_URL: '' });
      expect(await waitForExit(w, 90_000)).toEqual({ code: 0, signal: null });
      expect(w.output()).toContain('the in-process queue');
      const f = await waitForFile(pool, r.fileId, ['done', 'failed'], 1_000, w);
      await expectExactlyOnce(pool, r.fileId, file);
      return f;
    } finally {
      await pool.dispose();
    }
  }

  test(
    'committed chunks are whole, the worker finishes after the restart, rows identical',
    async () => {
      const file = env.file();
      const reference = await cleanIngest(file);

      const r = await env.land(file);
      expect(r.chunks).toBeGreaterThan(20);
      const w = env.worker(['--concurrency', '2']);
      await waitFor(
        'the worker to be mid-file',
        async () => ((await chunkStatuses(env.pool, r.fileId)).done ?? 0) >= 3,
        { timeoutMs: 60_000, intervalMs: 20 },
      );
      await env.pg.kill();
      await env.pool.dispose().catch(() => {});
      // The worker keeps retrying while the database is gone.
      await sleep(3_000);
      expect({ running: w.running(), output: w.running() ? '' : tail(w) }).toEqual({
        running: true,
        output: '',
      });

      await env.pg.start();
      await env.reopenPool();
      // Crash recovery kept exactly the committed chunks, each with all its readings.
      const recovered = await committedState(env.pool);
      expect(recovered.stored).toBe(recovered.counted);
      expect(recovered.stored).toBeLessThan(file.readings);

      const f = await waitForFile(env.pool, r.fileId, ['done', 'failed'], 90_000, w);
      expect(f.status).toBe('done');
      await expectExactlyOnce(env.pool, r.fileId, file);
      expect({ accepted: f.accepted, rejected: f.rejected }).toEqual({
        accepted: reference.accepted,
        rejected: reference.rejected,
      });

      // Identical rows to the clean ingest.
      const ref = openPool(referenceUrl);
      try {
        const [mine, theirs] = await Promise.all([dayRows(env.pool), dayRows(ref)]);
        expect(mine.length).toBeGreaterThan(0);
        expect(mine).toEqual(theirs);
      } finally {
        await ref.dispose();
      }
      // It did meet the outage: deliveries failed, were left unacknowledged and came again.
      expect(w.output()).toContain('chunk failed; will be retried');
      expect(w.output()).toContain(`file ${r.fileId} done`);
      expect(await stopCli(w)).toEqual({ code: 0, signal: null });
    },
    FAULT_TIMEOUT,
  );
});
