/**
 * Fault 31: Redis down. Landing answers a retryable QUEUE_UNAVAILABLE but the file is stored
 * (bytes and chunks in PostgreSQL), and the same content again is a duplicate of it. Workers
 * keep retrying — one that was running before, one started during the outage — and once Redis
 * is back (empty: it keeps no data), the periodic sweep queues the file, which finishes with
 * exact counts. The worker that ran through the restart goes on taking new work afterwards.
 *
 * Runs in the real-server pass only (DATABASE_URL and REDIS_URL set); see `describeFaults`.
 */
import { sql } from '@databases/pg';
import { ErrorCode, MeterdataError } from '../../src/errors';
import { buildCli, sleep, stopCli, waitFor } from '../helpers/processes';
import {
  describeFaults,
  expectExactlyOnce,
  FAULT_TIMEOUT,
  type FaultEnv,
  openFaultEnv,
  storedReadings,
  streamState,
  waitForFile,
} from './harness';

describeFaults('fault 31: Redis down', () => {
  let env: FaultEnv;

  beforeAll(async () => {
    await buildCli();
    env = await openFaultEnv('f31');
  }, FAULT_TIMEOUT);
  afterAll(async () => {
    await env?.close();
  }, FAULT_TIMEOUT);

  test(
    'the file is kept, the error is retryable, and it is processed once Redis returns',
    async () => {
      await env.redis.stop();

      const file = env.file();
      const [{ n: filesBefore }] = await env.pool.query(
        sql`SELECT count(*)::int AS n FROM ingest_file`,
      );
      const err = await env.land(file).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MeterdataError);
      expect(err).toMatchObject({ code: ErrorCode.QUEUE_UNAVAILABLE });
      expect((err as MeterdataError).message).toMatch(/stored.*retry later/);

      // Nothing acknowledged is lost: the file, its bytes and its chunks are in PostgreSQL.
      const [stored] = await env.pool.query(sql`
        SELECT f.id, f.status, f.items_total, f.chunks_total, f.size_bytes,
               (SELECT count(*)::int FROM ingest_chunk c WHERE c.file_id = f.id AND c.status = 'pending') AS pending,
               (SELECT count(*)::int FROM ingest_chunk c WHERE c.file_id = f.id AND c.published_at IS NOT NULL) AS published,
               (SELECT count(*)::int FROM ingest_file_part p WHERE p.file_id = f.id) AS parts
        FROM ingest_file f WHERE f.source = 'fault-test' ORDER BY f.id DESC LIMIT 1`);
      expect(stored).toMatchObject({
        status: 'received',
        items_total: null, // a line format: the workers parse and count it, later
        size_bytes: Buffer.byteLength(file.csv),
        published: 0,
      });
      expect(stored.parts).toBeGreaterThan(0);
      expect(stored.pending).toBe(stored.chunks_total);
      const fileId = Number(stored.id);
      const [{ n: filesAfter }] = await env.pool.query(
        sql`SELECT count(*)::int AS n FROM ingest_file`,
      );
      expect(filesAfter).toBe(filesBefore + 1);

      // The client retries: the same content is recognised, with the same file id.
      const again = await env.land(file);
      expect(again).toMatchObject({ duplicate: true, fileId, status: 'received' });

      // A worker started during the outage keeps retrying. Chunks that missed the queue are
      // published again by its sweep once their file is a second old.
      const during = env.worker(['--name', 'during'], { MD_REPUBLISH_AFTER_SECONDS: '1' });
      await sleep(3_000);
      expect(during.running()).toBe(true);
      expect(during.output()).toContain('queue unavailable; retrying');

      await env.redis.start();
      const f = await waitForFile(env.pool, fileId, ['done', 'failed'], 60_000, during);
      expect(f.status).toBe('done');
      await expectExactlyOnce(env.pool, fileId, file);
      await waitFor('the stream to drain', async () => {
        const s = await streamState(env.queue, env.redis);
        return s.pending === 0 && s.length === 0;
      });
      expect(await stopCli(during)).toEqual({ code: 0, signal: null });
    },
    FAULT_TIMEOUT,
  );

  test(
    'a worker that lives through a Redis restart (its consumer group lost) goes on taking work',
    async () => {
      if (!(await env.redis.running())) await env.redis.start();
      const survivor = env.worker(['--name', 'survivor']);
      const warmUp = env.file('2025-03-17T00:00:00Z');
      let already = await storedReadings(env.pool);
      const r1 = await env.land(warmUp);
      await waitForFile(env.pool, r1.fileId, ['done', 'failed'], 60_000, survivor);
      await expectExactlyOnce(env.pool, r1.fileId, warmUp, already);

      // Redis restarts empty (no persistence): stream and consumer group are gone, and neither
      // the worker nor the landing's queue client are told.
      await env.redis.stop();
      await sleep(1_500);
      await env.redis.start();

      already = await storedReadings(env.pool);
      const next = env.file('2025-03-10T00:00:00Z');
      const r2 = await env.land(next);
      expect(r2).toMatchObject({ duplicate: false, status: 'received' });
      const f2 = await waitForFile(env.pool, r2.fileId, ['done', 'failed'], 60_000, survivor);
      expect(f2.status).toBe('done');
      await expectExactlyOnce(env.pool, r2.fileId, next, already);
      expect(survivor.output()).toContain(`file ${r2.fileId} done`);
      await waitFor('the stream to drain', async () => {
        const s = await streamState(env.queue, env.redis);
        return s.pending === 0 && s.length === 0;
      });
      expect(await stopCli(survivor)).toEqual({ code: 0, signal: null });
    },
    FAULT_TIMEOUT,
  );
});
