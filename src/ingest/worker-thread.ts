/**
 * Entry point of an ingest worker thread (see threads.ts): its own database pool and queue
 * consumer, the same IngestWorker as the main thread, until the main thread says stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { openRuntime } from '../runtime';
import { type ChunkOutcome, IngestWorker, type WorkerOptions } from './worker';
import type { Delivery } from './queue';

export interface ThreadData {
  env: Record<string, string | undefined>;
  options: WorkerOptions;
  /** the main thread's log level (a one-shot command logs warnings only) */
  logLevel?: string;
}

export interface ThreadTally {
  done: number;
  skipped: number;
  dead: number;
  failed: number;
}

async function main(): Promise<ThreadTally> {
  const data = workerData as ThreadData;
  const config = loadConfig(data.env as NodeJS.ProcessEnv);
  // The embedded database belongs to the main thread: a thread must never open it.
  if (!config.databaseUrl) throw new Error('worker threads need DATABASE_URL');
  const logger = createLogger(data.logLevel ?? config.logLevel);
  const rt = await openRuntime({ config, logger, migrate: false });
  const tally: ThreadTally = { done: 0, skipped: 0, dead: 0, failed: 0 };
  class CountingWorker extends IngestWorker {
    override async handle(d: Delivery): Promise<ChunkOutcome> {
      try {
        const o = await super.handle(d);
        tally[o]++;
        parentPort!.postMessage({ type: 'chunk', fileId: d.fileId, outcome: o });
        return o;
      } catch (err) {
        tally.failed++;
        throw err;
      }
    }
  }
  const worker = new CountingWorker(rt.db.pool, rt.queue, rt.logger, {
    ...data.options,
    vee: config.vee,
  });
  parentPort!.on('message', (m) => {
    if (m === 'stop') worker.stop();
  });
  try {
    await worker.run();
  } finally {
    await rt.close();
  }
  return tally;
}

main().then(
  (tally) => parentPort!.postMessage({ type: 'stopped', tally }),
  (err: unknown) =>
    parentPort!.postMessage({
      type: 'error',
      message: err instanceof Error ? err.message : String(err),
    }),
);
