/**
 * Streams of readings into one ingest batch: the loop shared by CSV files (chunks with line
 * numbers) and the simulator (ReadingRow arrays), feeding ingestChunk chunk by chunk.
 */
import { type ConnectionPool } from '@databases/pg';
import { type ReadingInput, type Rejection } from '../domain/readings';
import { type ReadingRow } from '../domain/simulate';
import { createBatch, finishBatch } from '../storage/readings';
import { ingestChunk, type IngestCounts, type IngestOptions, MeterResolver } from './readings';

export interface InputChunk {
  items: readonly ReadingInput[];
  /** the caller's number for each item (file line numbers); default: running item index */
  lines?: readonly number[];
  /** items already rejected by the reader (indexes in the caller's numbering) */
  rejected?: readonly Rejection[];
  /** bytes of the source consumed so far, for progress */
  bytesRead?: number;
}

export interface StreamProgress extends IngestCounts {
  batchId: number;
  bytesRead: number | undefined;
}

export interface StreamIngestOptions extends IngestOptions {
  /** called after every chunk is written */
  onProgress?: (p: StreamProgress) => void;
}

export interface StreamIngestResult extends IngestCounts {
  batchId: number;
  /** the first `maxRejections` (default 1000) rejections, in input order */
  rejections: Rejection[];
}

/** Rows are re-chunked to about this many before each write (one round-trip set per chunk). */
export const STREAM_CHUNK_ROWS = 20_000;

/**
 * Ingests chunks into one new batch. The batch is created when the first chunk arrives, so a
 * source that fails before yielding anything leaves no trace.
 */
export async function ingestChunks(
  pool: ConnectionPool,
  chunks: AsyncIterable<InputChunk> | Iterable<InputChunk>,
  opts: StreamIngestOptions,
): Promise<StreamIngestResult> {
  const maxRejections = opts.maxRejections ?? 1000;
  const now = opts.now ?? Date.now();
  const clockToleranceSeconds = opts.clockToleranceSeconds ?? 3600;
  const resolver = new MeterResolver(pool);
  const counts: IngestCounts = { accepted: 0, unchanged: 0, changed: 0, rejected: 0 };
  const rejections: Rejection[] = [];
  let batchId: number | undefined;
  let position = 0;

  const write = async (chunk: InputChunk): Promise<void> => {
    batchId ??= await createBatch(pool, opts);
    const indexes = chunk.lines ?? chunk.items.map((_, k) => position + k);
    position += chunk.items.length;
    const early = chunk.rejected ?? [];
    const r = chunk.items.length
      ? await ingestChunk(pool, resolver, batchId, chunk.items, {
          now,
          clockToleranceSeconds,
          indexes,
          vee: opts.vee,
        })
      : { counts: { accepted: 0, unchanged: 0, changed: 0, rejected: 0 }, rejections: [] };
    counts.accepted += r.counts.accepted;
    counts.unchanged += r.counts.unchanged;
    counts.changed += r.counts.changed;
    counts.rejected += r.counts.rejected + early.length;
    if (rejections.length < maxRejections && (early.length || r.rejections.length)) {
      const mine = early.length ? [...early, ...r.rejections] : r.rejections;
      if (early.length) mine.sort((a, b) => a.index - b.index);
      rejections.push(...mine.slice(0, maxRejections - rejections.length));
    }
    opts.onProgress?.({ ...counts, batchId, bytesRead: chunk.bytesRead });
  };

  // The next chunk is read while the current one is written, so parsing overlaps the
  // database round-trips.
  const it: AsyncIterator<InputChunk> | Iterator<InputChunk> =
    Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]();
  let ahead = Promise.resolve(it.next());
  try {
    for (;;) {
      const step = await ahead;
      if (step.done) break;
      ahead = Promise.resolve(it.next());
      ahead.catch(() => {}); // handled by the next await, or moot if the write fails
      await write(step.value);
    }
  } catch (err) {
    await Promise.resolve(it.return?.()).catch(() => {});
    throw err;
  }
  batchId ??= await createBatch(pool, opts);
  await finishBatch(pool, batchId, counts);
  return { batchId, ...counts, rejections };
}

/** Re-chunks row arrays of any size into chunks of about `size` items. */
async function* rechunk(
  rows: AsyncIterable<readonly ReadingRow[]> | Iterable<readonly ReadingRow[]>,
  size: number,
): AsyncGenerator<InputChunk> {
  let items: ReadingInput[] = [];
  for await (const batch of rows) {
    // ReadingRow is a ReadingInput with an epoch-ms start (accepted by validateReading).
    for (const row of batch) items.push(row);
    if (items.length >= size) {
      yield { items };
      items = [];
    }
  }
  if (items.length) yield { items };
}

/** Ingests generated or converted rows (the simulator's output) as one batch. */
export async function ingestRowStream(
  pool: ConnectionPool,
  rows: AsyncIterable<readonly ReadingRow[]> | Iterable<readonly ReadingRow[]>,
  opts: StreamIngestOptions & { chunkRows?: number },
): Promise<StreamIngestResult> {
  return ingestChunks(pool, rechunk(rows, opts.chunkRows ?? STREAM_CHUNK_ROWS), opts);
}
