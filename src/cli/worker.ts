/**
 * `meterdata worker`: consumes the ingest queue (Redis Streams with REDIS_URL, else the
 * in-process queue over the landing tables) until SIGINT / SIGTERM — or, with
 * `--exit-when-idle`, until nothing is left to take — and prints a line per file it finishes.
 * Any number of workers, in any number of processes, share the work.
 */
import { type Command } from 'commander';
import { type ConnectionPool } from '@databases/pg';
import { type Logger } from '../logger';
import {
  type ChunkOutcome,
  configuredWorkerOptions,
  IngestWorker,
  type WorkerOptions,
} from '../ingest/worker';
import { type ChunkRef, type Delivery, type JobQueue, RedisQueue } from '../ingest/queue';
import { type Runtime } from '../runtime';
import { filesByIds } from '../storage/landing';
import { threadEnv, WorkerThreads, workerShape } from '../ingest/threads';
import { PartParser } from '../ingest/part-parser';
import { HostWorkers } from '../ingest/host-workers';
import { type CliIo, fmtInt, nonNegativeInt, positiveInt, writeLine } from './io';

/** Consecutive empty takes, per concurrent consumer, after which `--exit-when-idle` stops. */
const IDLE_TAKES = 3;

export interface WorkerCliOptions {
  /** default: 1 embedded; on PostgreSQL 2, or 4 with a parse thread */
  concurrency?: number;
  /**
   * ingest worker threads in this process (default 1: a second thread per process buys about
   * 15 % on two cores for 40 % more memory; scale out with processes, or raise it where cores
   * are spare). Embedded: always 1.
   */
  threads?: number;
  /**
   * parse threads beside the worker thread (default 1 on PostgreSQL with more than one core,
   * else 0): parsing parts moves to the core PostgreSQL leaves idle
   */
  parseThreads?: number;
  name?: string;
  exitWhenIdle?: boolean;
}

/** Passes everything through, counting takes that came back empty in a row. */
class IdleWatch implements JobQueue {
  readonly kind: JobQueue['kind'];
  emptyTakes = 0;

  constructor(private readonly inner: JobQueue) {
    this.kind = inner.kind;
  }

  publish(refs: readonly ChunkRef[]): Promise<void> {
    return this.inner.publish(refs);
  }

  async take(consumer: string, max: number, blockMs: number): Promise<Delivery[]> {
    const got = await this.inner.take(consumer, max, blockMs);
    this.emptyTakes = got.length ? 0 : this.emptyTakes + 1;
    return got;
  }

  ack(d: Delivery): Promise<void> {
    return this.inner.ack(d);
  }

  deadLetter(d: Delivery, reason: string): Promise<void> {
    return this.inner.deadLetter(d, reason);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The ingest worker plus a line per file it sees finished and a tally for the summary. */
class ReportingWorker extends IngestWorker {
  readonly tally = { done: 0, skipped: 0, dead: 0, failed: 0, files: 0 };
  private readonly reported = new Set<number>();

  constructor(
    private readonly db: ConnectionPool,
    queue: JobQueue,
    logger: Logger,
    opts: WorkerOptions,
    private readonly out: NodeJS.WritableStream,
  ) {
    super(db, queue, logger, opts);
  }

  override async handle(d: Delivery): Promise<ChunkOutcome> {
    let outcome: ChunkOutcome;
    try {
      outcome = await super.handle(d);
    } catch (err) {
      this.tally.failed++;
      throw err;
    }
    this.tally[outcome]++;
    // A redelivery of a finished chunk says nothing new about its file.
    if (outcome !== 'skipped') await this.reportIfFinished(d.fileId);
    return outcome;
  }

  /** Counts a chunk another thread of this process handled, and reports its file if done. */
  async threadHandled(fileId: number, outcome: string): Promise<void> {
    if (outcome === 'done' || outcome === 'skipped' || outcome === 'dead') this.tally[outcome]++;
    if (outcome !== 'skipped') await this.reportIfFinished(fileId);
  }

  private async reportIfFinished(fileId: number): Promise<void> {
    if (this.reported.has(fileId)) return;
    // Only a line on the console: a failed look-up must not fail the committed chunk.
    const [f] = await filesByIds(this.db, [fileId]).catch(() => []);
    if (!f || (f.status !== 'done' && f.status !== 'failed')) return;
    if (this.reported.size >= 10_000) this.reported.clear();
    this.reported.add(fileId);
    this.tally.files++;
    writeLine(
      this.out,
      f.status === 'done'
        ? `file ${f.id} done: ${fmtInt(f.accepted)} accepted, ${fmtInt(f.unchanged)} unchanged, ` +
            `${fmtInt(f.changed)} changed, ${fmtInt(f.rejected)} rejected (${fmtInt(f.chunksTotal ?? 0)} chunks)`
        : `file ${f.id} failed: ${f.errorCode ?? 'ERROR'}: ${f.errorMessage ?? 'no reason recorded'}`,
    );
  }
}

/** MD_REPUBLISH_AFTER_SECONDS: age after which a staged chunk never queued is published again. */
function republishAfterSeconds(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.MD_REPUBLISH_AFTER_SECONDS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(
      `MD_REPUBLISH_AFTER_SECONDS must be a non-negative integer (got ${JSON.stringify(raw)})`,
    );
  }
  return n;
}

/** Runs one worker on an open runtime until stopped (or idle); the caller closes the runtime. */
export async function runWorker(
  rt: Runtime,
  o: WorkerCliOptions,
  io: Pick<CliIo, 'stdout' | 'env' | 'signal'>,
  /** this process, already announced on the host (else announced here, for this run only) */
  announced?: HostWorkers,
): Promise<void> {
  const started = Date.now();
  const queue = new IdleWatch(rt.queue);
  const { parseThreads, concurrency } = workerShape({
    embedded: rt.db.embedded,
    parseThreads: o.parseThreads,
    concurrency: o.concurrency,
  });
  if (!rt.db.embedded && concurrency > rt.config.poolSize) {
    rt.logger.warn(
      { concurrency, poolSize: rt.config.poolSize },
      'concurrency exceeds the connection pool (MD_POOL_SIZE); chunks will wait for connections',
    );
  }
  const republish = republishAfterSeconds(io.env);
  // Parse threads run while this host has a core to spare: several worker processes on a
  // small host parse in their own threads instead of competing for its cores.
  const host = announced ?? new HostWorkers();
  if (!announced) host.register();
  const parser = new PartParser(parseThreads, rt.logger, () => host.coreToSpare());
  // The same options for this thread's worker and the extra threads' (which read MD_VEE from
  // their own configuration, the same environment).
  const options: WorkerOptions = {
    ...configuredWorkerOptions(rt.config),
    ...(o.name ? { name: o.name } : {}),
    concurrency,
    ...(republish !== undefined ? { republishAfterSeconds: republish } : {}),
  };
  const worker = new ReportingWorker(
    rt.db.pool,
    queue,
    rt.logger,
    { ...options, partParser: parser },
    io.stdout,
  );
  const stop = (why: string) => {
    rt.logger.info({ reason: why }, 'worker stopping after the chunks in flight');
    worker.stop();
  };
  const threads = new WorkerThreads(
    rt.db.embedded ? 0 : (o.threads ?? 1) - 1,
    threadEnv(io.env ?? {}, rt.config),
    options,
    rt.logger,
    (fileId, outcome) => void worker.threadHandled(fileId, outcome),
  );
  const onSignal = (name: NodeJS.Signals) => stop(name);
  const onAbort = () => stop('abort');
  // `once`: a second Ctrl+C falls through to Node's default and ends the process at once.
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (io.signal?.aborted) onAbort();
  else io.signal?.addEventListener('abort', onAbort, { once: true });
  const source =
    rt.queue instanceof RedisQueue
      ? `the Redis stream ${rt.queue.stream}`
      : 'the in-process queue (no REDIS_URL)';
  writeLine(
    io.stdout,
    `worker ${worker.name} consuming ${source} with concurrency ${concurrency}` +
      (threads.size ? ` in ${threads.size + 1} threads` : '') +
      (parser.threads
        ? `, parsing in ${parser.threads} parse thread${parser.threads > 1 ? 's' : ''} while ` +
          'this host has a core to spare'
        : '') +
      (o.exitWhenIdle ? '; exits when idle' : '; Ctrl+C to stop'),
  );
  try {
    await worker.run(
      o.exitWhenIdle ? () => queue.emptyTakes >= IDLE_TAKES * concurrency : undefined,
    );
  } finally {
    await threads.stop();
    await parser.close();
    if (!announced) host.unregister();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    io.signal?.removeEventListener('abort', onAbort);
  }
  const t = worker.tally;
  writeLine(
    io.stdout,
    `worker stopped: ${fmtInt(t.done + t.skipped + t.dead)} chunks (${fmtInt(t.done)} written, ` +
      `${fmtInt(t.skipped)} already done, ${fmtInt(t.dead)} dead-lettered), ${fmtInt(t.failed)} ` +
      `attempts to retry, ${fmtInt(t.files)} files finished in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

/**
 * Adds `worker`. `open` gives the runtime (database and queue from DATABASE_URL / REDIS_URL);
 * it is closed when the worker stops. `io` is for tests (default: the process's streams).
 */
export function registerWorker(
  program: Command,
  open: () => Promise<Runtime>,
  io: Partial<Pick<CliIo, 'stdout' | 'env' | 'signal'>> = {},
): Command {
  return program
    .command('worker')
    .description(
      'process landed files: take chunks from the ingest queue and write their readings ' +
        '(until SIGINT / SIGTERM)',
    )
    .option(
      '--concurrency <n>',
      'chunks in flight at once in this process (default 1 embedded; on PostgreSQL 2, or 4 ' +
        'with a parse thread)',
      positiveInt,
    )
    .option(
      '--threads <n>',
      'ingest worker threads in this process, PostgreSQL only (default 1)',
      positiveInt,
    )
    .option(
      '--parse-threads <n>',
      'threads that parse stored parts beside the worker thread (default 1 on PostgreSQL with ' +
        'more than one core, else 0: parse in the worker thread)',
      nonNegativeInt,
    )
    .option('--name <name>', 'consumer name (default host:pid:random)')
    .option(
      '--exit-when-idle',
      'stop once the queue has nothing to take (entries held by other consumers are left to ' +
        'their claim timeout)',
    )
    .action(async (o: WorkerCliOptions) => {
      // Announced before the database and the queue are opened: workers started together
      // (a service manager's instances) then count each other before the first part is parsed,
      // rather than each starting a parse thread while it still seems alone on the host.
      const host = new HostWorkers();
      host.register();
      try {
        const rt = await open();
        try {
          await runWorker(
            rt,
            o,
            {
              stdout: io.stdout ?? process.stdout,
              env: io.env ?? process.env,
              ...(io.signal ? { signal: io.signal } : {}),
            },
            host,
          );
        } finally {
          await rt.close();
        }
      } finally {
        host.unregister();
      }
    });
}
