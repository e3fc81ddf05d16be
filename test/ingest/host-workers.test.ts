import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { registerWorker } from '../../src/cli/worker';
import { HostWorkers } from '../../src/ingest/host-workers';
import { workerShape } from '../../src/ingest/threads';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'md-host-workers-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a registered worker counts itself, and others while their process lives', async () => {
  const me = new HostWorkers(dir);
  me.register();
  const t0 = Date.now();
  expect(me.count(t0)).toBe(1);

  // Another live process registered beside it.
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
  try {
    new HostWorkers(dir, other.pid!).register();
    expect(me.count(t0 + 10)).toBe(1); // re-read at most once a second
    expect(me.count(t0 + 2000)).toBe(2);
    expect(new HostWorkers(dir).coreToSpare(2)).toBe(false);
    expect(new HostWorkers(dir).coreToSpare(3)).toBe(true);
  } finally {
    other.kill('SIGKILL');
    await new Promise((r) => other.once('exit', r));
  }
  // Gone without unregistering: its file is cleared at the next count.
  expect(me.count(t0 + 4000)).toBe(1);
  expect(fs.readdirSync(dir)).toEqual([String(process.pid)]);
  me.unregister();
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('without its directory a worker counts alone', () => {
  const w = new HostWorkers(path.join(dir, 'missing', '\0bad'));
  w.register();
  expect(w.count()).toBe(1);
  expect(w.coreToSpare(2)).toBe(true);
  expect(w.coreToSpare(1)).toBe(false);
  w.unregister();
});

test('`meterdata worker` announces itself before it opens the database and the queue, and withdraws when done', async () => {
  // Workers started together must see each other before the first part is parsed.
  const announced = path.join(os.tmpdir(), 'meterdata-workers', String(process.pid));
  let seenAtOpen: boolean | null = null;
  const program = new Command('meterdata').exitOverride();
  registerWorker(program, async () => {
    seenAtOpen = fs.existsSync(announced);
    throw new Error('no database here');
  });
  await expect(
    program.parseAsync(['node', 'meterdata', 'worker', '--exit-when-idle']),
  ).rejects.toThrow('no database here');
  expect(seenAtOpen).toBe(true);
  expect(fs.existsSync(announced)).toBe(false);
});

describe('workerShape: a worker process by default', () => {
  test('on PostgreSQL with cores to spare: a parse thread and four chunks in flight', () => {
    expect(workerShape({ embedded: false, cores: 2 })).toEqual({ parseThreads: 1, concurrency: 4 });
    expect(workerShape({ embedded: false, cores: 8 })).toEqual({ parseThreads: 1, concurrency: 4 });
  });
  test('on one core, or on the embedded database, it parses in its own thread', () => {
    expect(workerShape({ embedded: false, cores: 1 })).toEqual({ parseThreads: 0, concurrency: 2 });
    expect(workerShape({ embedded: true, cores: 8 })).toEqual({ parseThreads: 0, concurrency: 1 });
  });
  test('what the command line asks for wins', () => {
    expect(workerShape({ embedded: false, cores: 2, parseThreads: 0 })).toEqual({
      parseThreads: 0,
      concurrency: 2,
    });
    expect(workerShape({ embedded: false, cores: 2, parseThreads: 2, concurrency: 3 })).toEqual({
      parseThreads: 2,
      concurrency: 3,
    });
  });
});
