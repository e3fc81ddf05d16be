/**
 * Fault 29: a worker process killed (SIGKILL) mid-file leaves its entries pending; another
 * worker reclaims them (XAUTOCLAIM) and the file ends with exact counts. A worker killed after
 * commit but before XACK leaves entries whose redelivery must insert nothing: simulated by
 * publishing every chunk of a finished file again.
 *
 * Runs in the real-server pass only (DATABASE_URL and REDIS_URL set); see `describeFaults`.
 */
import { sql } from '@databases/pg';
import { buildCli, stopCli, waitFor, waitForExit } from '../helpers/processes';
import {
  chunkStatuses,
  describeFaults,
  expectExactlyOnce,
  FAULT_TIMEOUT,
  type FaultEnv,
  fileRecord,
  historyRows,
  openFaultEnv,
  storedReadings,
  streamState,
  waitForFile,
} from './harness';

describeFaults('fault 29: worker killed', () => {
  let env: FaultEnv;

  beforeAll(async () => {
    await buildCli();
    env = await openFaultEnv('f29', { meters: 40, days: 7, seed: 29 });
  }, FAULT_TIMEOUT);
  afterAll(async () => {
    await env?.close();
  }, FAULT_TIMEOUT);

  test(
    'SIGKILL before commit: the entries are reclaimed by another worker, counts exact',
    async () => {
      const file = env.file();
      const r = await env.land(file);
      expect(r).toMatchObject({ duplicate: false, status: 'received' });
      expect(r.chunks).toBeGreaterThan(20);

      const first = env.worker(['--name', 'doomed', '--concurrency', '2']);
      // Some but not all chunks done: the worker is mid-file.
      const progress = await waitFor(
        'the first worker to be mid-file',
        async () => {
          const s = await chunkStatuses(env.pool, r.fileId);
          return (s.done ?? 0) >= 2 ? s : null;
        },
        { timeoutMs: 60_000, intervalMs: 20 },
      );
      const killed = await stopCli(first, 'SIGKILL');
      expect(killed.signal).toBe('SIGKILL');
      const afterKill = await chunkStatuses(env.pool, r.fileId);
      expect(progress.done).toBeLessThan(r.chunks);
      expect(afterKill.done ?? 0).toBeLessThan(r.chunks);
      // The dead consumer holds pending entries (delivered, never acknowledged).
      const held = await env.redis.cli('XPENDING', env.queue.stream, env.queue.group);
      expect(held).toContain('doomed');

      const second = env.worker(['--name', 'rescuer']);
      const f = await waitForFile(env.pool, r.fileId, ['done', 'failed'], 90_000, second);
      expect(f.status).toBe('done');
      await expectExactlyOnce(env.pool, r.fileId, file);
      // Every chunk was committed exactly once, some of them by the rescuer.
      const [{ rescued }] = await env.pool.query(sql`
        SELECT count(*)::int AS rescued FROM ingest_chunk
        WHERE file_id = ${r.fileId} AND worker = 'rescuer'`);
      expect(rescued).toBeGreaterThan(0);
      await waitFor('the stream to drain', async () => {
        const s = await streamState(env.queue, env.redis);
        return s.pending === 0 && s.length === 0;
      });
      expect(second.output()).toContain(`file ${r.fileId} done`);
      const stopped = await stopCli(second);
      expect(stopped).toEqual({ code: 0, signal: null });
      expect(second.output()).toMatch(/worker stopped: \d+ chunks/);
    },
    FAULT_TIMEOUT,
  );

  test(
    'killed after commit, before XACK: every redelivery is acknowledged without writing',
    async () => {
      const before = await storedReadings(env.pool);
      const file = env.file('2025-04-07T00:00:00Z');
      const r = await env.land(file);
      const w = env.worker(['--exit-when-idle']);
      expect(await waitForExit(w, 90_000)).toEqual({ code: 0, signal: null });
      await expectExactlyOnce(env.pool, r.fileId, file, before);
      expect(await streamState(env.queue, env.redis)).toEqual({ pending: 0, length: 0, dead: 0 });

      // What a crash between commit and XACK leaves: entries of chunks already done.
      const refs = Array.from({ length: r.chunks }, (_, seq) => ({ fileId: r.fileId, seq }));
      await env.queue.publish(refs);
      expect(await env.redis.cli('XLEN', env.queue.stream)).toBe(`${r.chunks}\n`);
      const again = env.worker(['--exit-when-idle']);
      expect(await waitForExit(again, 90_000)).toEqual({ code: 0, signal: null });
      expect(again.output()).toContain(`0 written, ${r.chunks} already done`);

      await expectExactlyOnce(env.pool, r.fileId, file, before);
      expect(await historyRows(env.pool)).toBe(0);
      const f = await fileRecord(env.pool, r.fileId);
      expect(f.chunksDone).toBe(r.chunks);
      expect(await streamState(env.queue, env.redis)).toEqual({ pending: 0, length: 0, dead: 0 });
      // Redeliveries of finished chunks are not counted as attempts.
      const [{ max }] = await env.pool.query(
        sql`SELECT max(deliveries)::int AS max FROM ingest_chunk WHERE file_id = ${r.fileId}`,
      );
      expect(max).toBe(1);
    },
    FAULT_TIMEOUT,
  );

  test(
    'killed between the last commit and closing the file: the redelivery closes it',
    async () => {
      const before = await storedReadings(env.pool);
      const file = env.file('2025-05-05T00:00:00Z');
      const r = await env.land(file);
      const w = env.worker(['--exit-when-idle']);
      expect(await waitForExit(w, 90_000)).toEqual({ code: 0, signal: null });
      await expectExactlyOnce(env.pool, r.fileId, file, before);

      // What SIGKILL right after the last chunk's commit leaves: every chunk done, the file
      // not yet closed (counts not summed), the last entry unacknowledged.
      await env.pool.query(sql`
        UPDATE ingest_file
        SET status = 'processing', finished_at = NULL, accepted = 0, unchanged = 0, changed = 0,
            rejected = parse_rejected
        WHERE id = ${r.fileId}`);
      await env.queue.publish([{ fileId: r.fileId, seq: r.chunks - 1 }]);
      const again = env.worker(['--exit-when-idle']);
      expect(await waitForExit(again, 90_000)).toEqual({ code: 0, signal: null });
      expect(again.output()).toContain('0 written, 1 already done');
      await expectExactlyOnce(env.pool, r.fileId, file, before);
      expect(await streamState(env.queue, env.redis)).toEqual({ pending: 0, length: 0, dead: 0 });
    },
    FAULT_TIMEOUT,
  );
});
