/**
 * The `worker` command in-process, on the test database and queue (embedded database and
 * in-process queue by default; PostgreSQL and a Redis stream of its own in the real-server
 * pass): option parsing, a line per finished file, the summary, stopping when idle and
 * stopping on request. The fault tests run the same command as separate processes.
 */
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { registerWorker } from '../../src/cli/worker';
import { loadConfig } from '../../src/config';
import { receiveFile } from '../../src/ingest/landing';
import { silentLogger } from '../../src/logger';
import { type Runtime } from '../../src/runtime';
import { importTopology } from '../../src/ingest/topology';
import { fileRecord, historyRows, simulatedCsv, storedReadings, bytes } from './harness';
import { waitFor } from '../helpers/processes';
import { openTestDatabase, type TestDatabase } from '../helpers/db';
import { testQueue } from '../helpers/queue';
import { createSimulation, NO_FAULTS } from '../../src/domain/simulate';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

const FLEET = { meters: 5, days: 1, seed: 11 };
const START = '2025-03-03T00:00:00Z';

let db: TestDatabase;
let rt: Runtime;

beforeAll(async () => {
  db = await openTestDatabase();
  const queue = testQueue(db.pool);
  rt = {
    config: loadConfig({}),
    logger: silentLogger,
    db,
    queue,
    async close() {
      await queue.close();
      await db.close();
    },
  };
  const sim = createSimulation({ ...FLEET, start: Date.parse(START), faultRates: NO_FAULTS });
  await importTopology(rt.db.pool, sim.fleet.topology);
});
afterAll(async () => {
  await rt?.close();
});

/** Runs `worker <args>` on the shared runtime (left open for the next test). */
function runWorker(args: string[], signal?: AbortSignal) {
  const stdout = new Capture();
  const program = new Command('meterdata')
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} });
  registerWorker(program, async () => ({ ...rt, close: async () => {} }), {
    stdout,
    env: {},
    ...(signal ? { signal } : {}),
  });
  const done = program.parseAsync(['worker', ...args], { from: 'user' });
  return { stdout, done };
}

async function land(start: string) {
  const file = simulatedCsv({ ...FLEET, start });
  const r = await receiveFile(
    rt.db.pool,
    bytes(file.csv),
    { source: 'worker-cli-test', format: 'csv' },
    { maxBytes: 1 << 30, partBytes: 6_000, queue: rt.queue },
  );
  return { file, r };
}

test('--exit-when-idle processes what is queued, prints a line per file and a summary', async () => {
  const { file, r } = await land(START);
  expect(r.chunks).toBeGreaterThan(3);
  const { stdout, done } = runWorker(['--exit-when-idle', '--concurrency', '2', '--name', 'w1']);
  await done;
  const f = await fileRecord(rt.db.pool, r.fileId);
  expect(f).toMatchObject({
    status: 'done',
    accepted: file.readings,
    unchanged: 0,
    changed: 0,
    rejected: file.rejected,
  });
  expect(await storedReadings(rt.db.pool)).toBe(file.readings);
  expect(await historyRows(rt.db.pool)).toBe(0);
  const lines = stdout.text.trim().split('\n');
  expect(lines[0]).toMatch(
    /^worker w1 consuming (the in-process queue \(no REDIS_URL\)|the Redis stream md-test:\w+) with concurrency 2; exits when idle$/,
  );
  expect(lines).toContain(
    `file ${r.fileId} done: ${file.readings.toLocaleString('en-US')} accepted, 0 unchanged, ` +
      `0 changed, 2 rejected (${r.chunks} chunks)`,
  );
  expect(lines.at(-1)).toMatch(
    new RegExp(
      `^worker stopped: ${r.chunks} chunks \\(${r.chunks} written, 0 already done, ` +
        `0 dead-lettered\\), 0 attempts to retry, 1 files finished in [\\d.]+ s$`,
    ),
  );
}, 60_000);

test('without --exit-when-idle it runs until asked to stop', async () => {
  const stop = new AbortController();
  const { stdout, done } = runWorker([], stop.signal);
  const { r } = await land('2025-03-05T00:00:00Z');
  await waitFor('the file to be done', async () => {
    const f = await fileRecord(rt.db.pool, r.fileId);
    return f.status === 'done';
  });
  stop.abort();
  await done;
  expect(stdout.text).toContain('; Ctrl+C to stop');
  expect(stdout.text).toContain(`file ${r.fileId} done`);
  expect(stdout.text).toMatch(/worker stopped: \d+ chunks/);
}, 60_000);

test('a bad --concurrency is a usage error', async () => {
  const { done } = runWorker(['--concurrency', '0']);
  await expect(done).rejects.toMatchObject({ code: 'commander.invalidArgument' });
});
