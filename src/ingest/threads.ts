/**
 * Ingest worker threads: one Node thread parses, validates and merges one chunk at a time, so
 * a worker process uses more cores by running more IngestWorkers in threads, each with its own
 * pool and queue consumer (the queue hands every chunk to one of them, as it would to
 * separate processes). Only on PostgreSQL: the embedded database lives in the main thread and
 * takes one connection at a time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger';
import type { WorkerOptions } from './worker';
import type { ThreadData, ThreadTally } from './worker-thread';

const ENTRY = path.join(__dirname, 'worker-thread.js');

/**
 * The environment a thread loads its configuration from: the process's, with the database and
 * Redis the caller's runtime actually uses (a test or embedding caller may pass its own).
 */
export function threadEnv(
  base: NodeJS.ProcessEnv,
  config: { databaseUrl?: string | null; redisUrl?: string | null },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...base };
  if (config.databaseUrl) env.DATABASE_URL = config.databaseUrl;
  if (config.redisUrl) env.REDIS_URL = config.redisUrl;
  else delete env.REDIS_URL;
  return env;
}

/** One worker thread per core (PostgreSQL only: the caller keeps the embedded database to 1). */
export function threadPerCore(): number {
  return Math.max(1, os.availableParallelism());
}

/**
 * The default shape of a `meterdata worker` process. On PostgreSQL with more than one core:
 * one parse thread beside the worker thread, and four chunks in flight, so that parsing in its
 * thread overlaps the worker thread's validation, VEE and merge of the others while two
 * commit. Without a parse thread, two chunks: one parsed and merged while the other commits.
 * The embedded database: one chunk at a time (it has one connection), parsed in the worker
 * thread.
 */
export function workerShape(o: {
  embedded: boolean;
  parseThreads?: number | undefined;
  concurrency?: number | undefined;
  cores?: number;
}): { parseThreads: number; concurrency: number } {
  const cores = o.cores ?? os.availableParallelism();
  const parseThreads = o.parseThreads ?? (!o.embedded && cores > 1 ? 1 : 0);
  const concurrency = o.concurrency ?? (o.embedded ? 1 : 2 + 2 * Math.min(parseThreads, 1));
  return { parseThreads, concurrency };
}

export class WorkerThreads {
  private readonly threads: Array<{ worker: Worker; done: Promise<ThreadTally | null> }> = [];

  /**
   * Starts `n` threads (none where the compiled entry is missing, e.g. under ts-jest-like
   * runners: the caller's own worker does the work then).
   */
  constructor(
    n: number,
    env: NodeJS.ProcessEnv,
    options: WorkerOptions,
    logger: Logger,
    /** called in the main thread for every chunk a thread handled */
    onChunk?: (fileId: number, outcome: string) => void,
  ) {
    if (n <= 0 || !fs.existsSync(ENTRY)) return;
    for (let i = 0; i < n; i++) {
      const data: ThreadData = {
        env: { ...env },
        logLevel: logger.level,
        options: { ...options, name: options.name ? `${options.name}/t${i + 1}` : undefined },
      };
      const worker = new Worker(ENTRY, { workerData: data });
      const done = new Promise<ThreadTally | null>((resolve) => {
        let tally: ThreadTally | null = null;
        type Message = {
          type: string;
          tally?: ThreadTally;
          message?: string;
          fileId?: number;
          outcome?: string;
        };
        worker.on('message', (m: Message) => {
          if (m.type === 'chunk') onChunk?.(m.fileId!, m.outcome!);
          else if (m.type === 'stopped') {
            // Its work is over; whatever still holds its event loop (idle sockets) goes too.
            tally = m.tally ?? null;
            void worker.terminate();
          } else if (m.type === 'error')
            logger.error({ thread: i + 1, err: m.message }, 'worker thread failed');
        });
        worker.on('error', (err) => logger.error({ thread: i + 1, err }, 'worker thread crashed'));
        worker.on('exit', () => resolve(tally));
      });
      this.threads.push({ worker, done });
    }
  }

  get size(): number {
    return this.threads.length;
  }

  /** Asks every thread to stop after its chunks in flight; resolves with their tallies. */
  async stop(): Promise<ThreadTally> {
    for (const t of this.threads) t.worker.postMessage('stop');
    const tallies = await Promise.all(this.threads.map((t) => t.done));
    const sum: ThreadTally = { done: 0, skipped: 0, dead: 0, failed: 0 };
    for (const t of tallies) {
      if (!t) continue;
      sum.done += t.done;
      sum.skipped += t.skipped;
      sum.dead += t.dead;
      sum.failed += t.failed;
    }
    return sum;
  }
}
