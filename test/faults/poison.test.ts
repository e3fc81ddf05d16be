import { inflateRawSync } from 'node:zlib';
/**
 * Fault 30: a poison entry (a chunk whose staged payload cannot be decoded) fails on every
 * delivery; after MD_MAX_DELIVERIES it goes to the dead-letter stream with its reason and its
 * file is marked failed, while the other chunks are written and the stream keeps moving.
 *
 * Runs in the real-server pass only (DATABASE_URL and REDIS_URL set); see `describeFaults`.
 */
import { sql } from '@databases/pg';
import { buildCli, stopCli, waitFor } from '../helpers/processes';
import {
  chunkStatuses,
  describeFaults,
  expectExactlyOnce,
  FAULT_TIMEOUT,
  type FaultEnv,
  historyRows,
  openFaultEnv,
  storedReadings,
  streamState,
  waitForFile,
} from './harness';

describeFaults('fault 30: poison entry', () => {
  let env: FaultEnv;

  beforeAll(async () => {
    await buildCli();
    env = await openFaultEnv('f30');
  }, FAULT_TIMEOUT);
  afterAll(async () => {
    await env?.close();
  }, FAULT_TIMEOUT);

  test(
    'dead-lettered after 3 deliveries with its reason; the file fails, the stream moves on',
    async () => {
      const file = env.file();
      const r = await env.land(file);
      expect(r.chunks).toBeGreaterThan(4);
      // Chunk 1 is the file's part 1, hundreds of valid rows (the two bad rows sit mid-file):
      // count its rows, then garble its bytes so that no delivery can parse it.
      const poison = 1;
      const [part] = await env.pool.query(sql`
        SELECT data, compressed FROM ingest_file_part WHERE file_id = ${r.fileId} AND seq = ${poison}`);
      const text = (part.compressed ? inflateRawSync(part.data) : part.data).toString('utf8');
      const items = text.split('\n').filter((l: string) => l.trim() !== '').length;
      expect(items).toBeGreaterThan(200);
      expect(text).not.toMatch(/NaN|NO-SUCH-METER/);
      await env.pool.query(sql`
        UPDATE ingest_file_part SET data = ${Buffer.from('\x00 not a part \xff')}, compressed = true
        WHERE file_id = ${r.fileId} AND seq = ${poison}`);

      const w = env.worker(['--concurrency', '2'], { MD_MAX_DELIVERIES: '3' });
      const f = await waitForFile(env.pool, r.fileId, ['failed', 'done'], 60_000, w);
      expect(f).toMatchObject({ status: 'failed', errorCode: 'DEAD_LETTER' });
      expect(f.errorMessage).toContain(`chunk ${poison} failed after repeated deliveries`);
      // Every other chunk is still written.
      await waitFor(
        'the other chunks to be done',
        async () => (await chunkStatuses(env.pool, r.fileId)).done === r.chunks - 1,
      );
      expect(await chunkStatuses(env.pool, r.fileId)).toEqual({ done: r.chunks - 1, dead: 1 });
      const [chunk] = await env.pool.query(sql`
        SELECT status, deliveries, error FROM ingest_chunk WHERE file_id = ${r.fileId} AND seq = ${poison}`);
      // Three failed deliveries, the fourth dead-letters it.
      expect(chunk).toEqual({
        status: 'dead',
        deliveries: 4,
        error: 'delivered 3 times without success',
      });

      // The dead-letter stream holds exactly that entry, with the reason.
      expect(await env.redis.cli('XLEN', env.queue.deadStream)).toBe('1\n');
      const dead = (await env.redis.cli('XRANGE', env.queue.deadStream, '-', '+'))
        .trim()
        .split('\n');
      expect(dead.slice(1)).toEqual([
        'f',
        String(r.fileId),
        's',
        String(poison),
        'reason',
        'delivered 3 times without success',
      ]);

      // Nothing written twice; the poison chunk's readings are the only ones missing.
      const [sums] = await env.pool.query(sql`
        SELECT sum(accepted)::int AS accepted, sum(unchanged)::int AS unchanged,
               sum(changed)::int AS changed, sum(rejected)::int AS rejected
        FROM ingest_chunk WHERE file_id = ${r.fileId} AND status = 'done'`);
      expect(sums).toEqual({
        accepted: file.readings - items,
        unchanged: 0,
        changed: 0,
        // the NaN value and the unknown meter: workers parse the parts, so both are theirs
        rejected: 2,
      });
      expect(await storedReadings(env.pool)).toBe(file.readings - items);
      expect(await historyRows(env.pool)).toBe(0);
      await waitFor('the stream to drain', async () => {
        const s = await streamState(env.queue, env.redis);
        return s.pending === 0 && s.length === 0;
      });

      // The stream keeps moving: a clean file landed afterwards finishes.
      const before = await storedReadings(env.pool);
      const next = env.file('2025-03-10T00:00:00Z');
      const r2 = await env.land(next);
      const f2 = await waitForFile(env.pool, r2.fileId, ['done', 'failed'], 60_000, w);
      expect(f2.status).toBe('done');
      await expectExactlyOnce(env.pool, r2.fileId, next, before);
      // Acknowledgements follow commits: the last one may trail the file's completion a little.
      await waitFor('the stream to drain again', async () => {
        const s = await streamState(env.queue, env.redis);
        return s.pending === 0 && s.length === 0;
      });
      expect(await streamState(env.queue, env.redis)).toEqual({ pending: 0, length: 0, dead: 1 });
      expect(w.output()).toContain(`file ${r.fileId} failed: DEAD_LETTER`);
      expect(w.output()).toContain(`file ${r2.fileId} done`);
      expect(await stopCli(w)).toEqual({ code: 0, signal: null });
    },
    FAULT_TIMEOUT,
  );
});
