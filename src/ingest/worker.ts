/**
 * Ingest workers: take chunk references from the queue, commit the chunk's readings and its
 * "done" mark in one PostgreSQL transaction, then acknowledge. A redelivered chunk that is
 * already done is acknowledged without writing; one that keeps failing is dead-lettered and
 * its file marked failed. Any number of workers, in any number of processes, share the work.
 */
import os from 'node:os';
import { type ConnectionPool } from '@databases/pg';
import { type Config } from '../config';
import { type Logger } from '../logger';
import { daysOf, ensurePartitions, writePatches, retryOnConflict } from '../storage/readings';
import { cachedRuleSets, writeValidatedPatches } from '../storage/vee';
import {
  type FileParseMeta,
  fileParseMeta,
  finishFileIfComplete,
  readFilePartRange,
  insertRejections,
  lockChunk,
  takeChunk,
  markChunkDead,
  markChunkDone,
  markFileProcessing,
  markPublished,
  unclosedCompleteFiles,
  unqueuedChunks,
} from '../storage/landing';
import { decodeChunk, decompress } from './chunk-codec';
import { type CsvProfile, type FormatName } from './formats';
import { isEspiSegments, partsOf } from './formats/espi-segments';
import {
  parsePart as parsePartInline,
  type PartJob,
  type PartParser,
  type SegmentJob,
} from './part-parser';
import type { Rejection } from '../domain/readings';
import { type ReadingSource } from '../domain/reading-columns';

import { MeterResolver, validateItems } from './readings';
import { type Delivery, type JobQueue } from './queue';

export interface WorkerOptions {
  name?: string;
  /** deliveries after which a chunk is dead-lettered */
  maxDeliveries?: number;
  clockToleranceSeconds?: number;
  keepRejections?: number;
  /** how long a take() waits for work */
  blockMs?: number;
  /** seconds after which staged chunks that never reached the queue are published again */
  republishAfterSeconds?: number;
  /**
   * Chunks in flight at once in this process. Two overlap one chunk's parsing and merging in
   * Node with another's transaction in PostgreSQL (needs a pool of at least that size).
   */
  concurrency?: number;
  /** run the VEE rules over each chunk's touched days, in its transaction (default true) */
  vee?: boolean;
  /** parses stored parts (in parse threads); default: in this thread */
  partParser?: PartParser;
  now?: () => number;
}

/** The worker options a deployment configures (MD_MAX_DELIVERIES, MD_CLOCK_TOLERANCE_SECONDS, MD_KEEP_REJECTIONS, MD_VEE). */
export function configuredWorkerOptions(
  config: Pick<Config, 'maxDeliveries' | 'clockToleranceSeconds' | 'keepRejections' | 'vee'>,
): WorkerOptions {
  return {
    maxDeliveries: config.maxDeliveries,
    clockToleranceSeconds: config.clockToleranceSeconds,
    keepRejections: config.keepRejections,
    vee: config.vee,
  };
}

export type ChunkOutcome = 'done' | 'skipped' | 'dead';

/** What a worker keeps per file while it processes the file's chunks. */
interface FileState {
  meta: FileParseMeta;
  /** its meters by serial, as its chunks name them (and their VEE view) */
  resolver: MeterResolver;
  /** whether this worker has marked it processing (once is enough) */
  processing: boolean;
}

export class IngestWorker {
  readonly name: string;
  private readonly maxDeliveries: number;
  /** per file: its batch and how to parse its parts (one look-up per file), and its meters */
  private readonly files = new Map<number, FileState>();
  private stopping = false;
  private lastSweep = 0;

  constructor(
    private readonly pool: ConnectionPool,
    private readonly queue: JobQueue,
    private readonly logger: Logger,
    private readonly opts: WorkerOptions = {},
  ) {
    this.name =
      opts.name ?? `${os.hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
    this.maxDeliveries = opts.maxDeliveries ?? 5;
  }

  /** Processes one delivery; throws when the chunk must be retried later. */
  async handle(d: Delivery): Promise<ChunkOutcome> {
    const log = this.logger.child({ fileId: d.fileId, chunk: d.seq, worker: this.name });
    // Everything that reads outside the chunk's transaction happens first: the embedded
    // database has a single connection, so nothing may wait on the pool while a transaction
    // holds it.
    const taken = await takeChunk(this.pool, d.fileId, d.seq);
    if (!taken) {
      // Already done (or dead): a redelivery after a crash between commit and acknowledge,
      // which may have come before the file was closed too.
      await this.finishFile(d.fileId, log);
      await this.queue.ack(d);
      return 'skipped';
    }
    const { chunk: staged, part } = taken;
    const deliveries = staged.deliveries;
    if (deliveries > this.maxDeliveries) {
      const reason = `delivered ${deliveries - 1} times without success`;
      await markChunkDead(this.pool, d.fileId, d.seq, reason);
      await this.queue.deadLetter(d, reason);
      log.error({ deliveries }, 'chunk dead-lettered');
      return 'dead';
    }
    const file = await this.fileOf(d.fileId);
    if (!file.processing) {
      await markFileProcessing(this.pool, d.fileId);
      file.processing = true;
    }
    const batchId = file.meta.batchId;
    let outcome: ChunkOutcome = 'skipped';
    let decoded: { readings: ReadingSource; rejections: Rejection[] } | null = null;
    if (part && staged.firstLine !== null) {
      decoded = await this.parsePart(file, part, d.seq, staged.firstLine);
    } else if (staged.segments !== null) {
      decoded = await this.parseSegments(d.fileId, staged.segments);
    } else if (staged.payload) {
      decoded = {
        readings: decodeChunk(
          staged.compressed ? await decompress(staged.payload) : staged.payload,
        ),
        rejections: [],
      };
    }
    if (decoded) {
      const items = decoded.readings;
      const { patches, rejections: invalid } = await validateItems(file.resolver, items, {
        now: this.opts.now ? this.opts.now() : Date.now(),
        clockToleranceSeconds: this.opts.clockToleranceSeconds ?? 3600,
      });
      const rejections = decoded.rejections.length ? [...decoded.rejections, ...invalid] : invalid;
      await ensurePartitions(this.pool, daysOf(patches));
      const vee = this.opts.vee !== false && patches.length > 0;
      const ruleSets = vee ? await cachedRuleSets(this.pool) : null;
      outcome = await retryOnConflict(() =>
        this.pool.tx(async (tx) => {
          const chunk = await lockChunk(tx, d.fileId, d.seq);
          if (!chunk || chunk.status !== 'pending') return 'skipped' as const;
          const c = ruleSets
            ? await writeValidatedPatches(this.pool, tx, patches, batchId, {
                ruleSets,
                meterCache: file.resolver.veeMeters,
                now: this.opts.now ? this.opts.now() : Date.now(),
                onError: (err) => log.warn({ err }, 'VEE skipped a meter-channel'),
              })
            : await writePatches(this.pool, patches, batchId, { tx });
          await insertRejections(tx, d.fileId, rejections, this.opts.keepRejections ?? 1000);
          await markChunkDone(
            tx,
            d.fileId,
            d.seq,
            { ...c, rejected: rejections.length, items: items.length },
            this.name,
          );
          return 'done' as const;
        }),
      );
    }
    // The file is closed before the acknowledgement: if that fails, or the process dies in
    // between, the redelivery closes it (nothing else would).
    await this.finishFile(d.fileId, log);
    await this.queue.ack(d);
    return outcome;
  }

  /** Parses a chunk that is a stored part of a line-format file (see part-parser.ts). */
  private async parsePart(
    f: FileState,
    part: { data: Buffer; compressed: boolean },
    seq: number,
    firstLine: number,
  ): Promise<{ readings: ReadingSource; rejections: Rejection[] }> {
    const job: PartJob = {
      format: f.meta.format as FormatName,
      profile: f.meta.format === 'csv' && f.meta.profile ? (f.meta.profile as CsvProfile) : null,
      meter: f.meta.meterOverride,
      data: part.data,
      compressed: part.compressed,
      preamble: f.meta.preamble,
      preambleLines: f.meta.preambleLines,
      seq,
      firstLine,
    };
    return this.opts.partParser ? this.opts.partParser.parse(job) : parsePartInline(job);
  }

  /** Parses a chunk of an ESPI feed's reading segments from its stored parts. */
  private async parseSegments(
    fileId: number,
    value: unknown,
  ): Promise<{ readings: ReadingSource; rejections: Rejection[] }> {
    if (!isEspiSegments(value)) throw new Error('the chunk holds segments in an unknown form');
    const { first, last } = partsOf(value);
    const job: SegmentJob = {
      segments: value,
      parts: last < first ? [] : await readFilePartRange(this.pool, fileId, first, last),
      base: first * value.partBytes,
    };
    return this.opts.partParser ? this.opts.partParser.parse(job) : parsePartInline(job);
  }

  private async fileOf(fileId: number): Promise<FileState> {
    let f = this.files.get(fileId);
    if (!f) {
      const meta = await fileParseMeta(this.pool, fileId);
      if (!meta) throw new Error(`file ${fileId} is not in the landing`);
      f = { meta, resolver: new MeterResolver(this.pool), processing: false };
      if (this.files.size > 8) this.files.clear();
      this.files.set(fileId, f);
    }
    return f;
  }

  private async finishFile(fileId: number, log: Logger): Promise<void> {
    if (await finishFileIfComplete(this.pool, fileId)) {
      log.info('file done');
      this.files.delete(fileId);
    }
  }

  /** Publishes staged chunks whose reference never reached the queue (it was down). */
  async sweep(): Promise<number> {
    // Close files a crash left open after their last chunk committed.
    for (const id of await unclosedCompleteFiles(this.pool, 100))
      await finishFileIfComplete(this.pool, id);
    const refs = await unqueuedChunks(this.pool, this.opts.republishAfterSeconds ?? 10, 1000);
    if (refs.length) {
      await this.queue.publish(refs);
      await markPublished(this.pool, refs);
    }
    return refs.length;
  }

  /** Takes and processes deliveries until stop() is called or `until` returns true. */
  async run(until?: () => boolean | Promise<boolean>): Promise<void> {
    const n = Math.max(1, this.opts.concurrency ?? 1);
    await Promise.all(Array.from({ length: n }, (_, i) => this.loop(`${this.name}/${i}`, until)));
  }

  private async loop(consumer: string, until?: () => boolean | Promise<boolean>): Promise<void> {
    const blockMs = this.opts.blockMs ?? 1000;
    while (!this.stopping) {
      if (until && (await until())) return;
      if (Date.now() - this.lastSweep > 5000) {
        this.lastSweep = Date.now();
        await this.sweep().catch((err) => this.logger.warn({ err }, 'republish sweep failed'));
      }
      let batch: Delivery[];
      try {
        batch = await this.queue.take(consumer, 1, blockMs);
      } catch (err) {
        this.logger.warn({ err }, 'queue unavailable; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      for (const d of batch) {
        try {
          await this.handle(d);
        } catch (err) {
          // Not acknowledged: the entry is taken again after the claim timeout / lease.
          this.logger.error(
            { err, fileId: d.fileId, chunk: d.seq },
            'chunk failed; will be retried',
          );
        }
      }
    }
  }

  stop(): void {
    this.stopping = true;
  }
}
