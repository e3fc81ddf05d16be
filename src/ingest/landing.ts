/**
 * Landing: a head-end file is registered, its bytes kept and hashed, its structure checked and
 * its work cut into chunks — all in one transaction, so an acknowledged file is durable and a
 * structurally bad one (truncated, wrong encoding, broken XML, a DTD, missing columns) is
 * recorded as failed with nothing staged. The same content again is a duplicate. Chunk
 * references go to the queue after the commit.
 */
import crypto from 'node:crypto';
import { type ConnectionPool, type Transaction } from '@databases/pg';
import { ErrorCode, isMeterdataError, MeterdataError, SqlState, sqlStateOf } from '../errors';
import { type CommPath } from '../domain/topology';
import {
  parserFor,
  structureCheckFor,
  type FormatName,
  FORMAT_NAMES,
  type ParsedChunk,
  type RecordKey,
} from './formats';
import { bufferOf } from './formats/common';
import { landEspi } from './formats/espi-segments';
import type { Rejection } from '../domain/readings';
import { type CsvProfile } from './formats/csv-profile';
import { compress, encodeChunk } from './chunk-codec';
import {
  completeFileReceipt,
  fileIdBySha,
  insertChunk,
  insertFile,
  insertFilePart,
  insertPartChunks,
  insertRejections,
  insertSegmentChunk,
  markPublished,
} from '../storage/landing';
import { type JobQueue, type ChunkRef } from './queue';
import { sql } from '@databases/pg';

export const PART_BYTES = 1 << 20;

/**
 * Part size of a line format, which is also its chunk: about 18,000 readings either way (a CSV
 * line is one reading, a CMEP record a day of them in a third of the bytes).
 */
const LINE_PART_BYTES: Partial<Record<FormatName, number>> = { csv: 1 << 20, cmep: 384 << 10 };

export interface ReceiveMeta {
  source: string;
  format: string;
  profile?: CsvProfile | null;
  meter?: string | null;
  fileName?: string | null;
  sourceSystem?: string | null;
  commPath?: CommPath | null;
  createdBy?: string | null;
}

export interface ReceiveOptions {
  maxBytes: number;
  /** readings per chunk of an ESPI feed (line formats: a chunk is a part) */
  chunkSize?: number;
  /** bytes per stored part, and so per chunk of a line format (default 1 MiB) */
  partBytes?: number;
  keepRejections?: number;
  queue?: JobQueue;
}

export interface ReceiveResult {
  fileId: number;
  duplicate: boolean;
  status: 'received' | 'done' | 'failed';
  chunks: number;
  /** parsed readings; null when the workers count them (files stored as parts or segments) */
  items: number | null;
  parseRejected: number;
  sizeBytes: number;
  sha256: string;
  errorCode?: string;
  errorMessage?: string;
}

/** Reads a byte stream once, hashing it and cutting it into parts, whatever its consumer does. */
class Tee implements AsyncIterable<Buffer> {
  readonly hash = crypto.createHash('sha256');
  bytes = 0;
  readonly parts: Buffer[] = [];
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly it: AsyncIterator<Buffer | Uint8Array | string>;

  /** line number of each part's first line (line-aligned parts only) */
  readonly firstLines: number[] = [];
  /** a part had to be cut inside a record (the file is structurally bad: a record too long) */
  misaligned = false;
  /** the meter of a record, once the structure check knows it (line-aligned parts) */
  recordKey: RecordKey | null = null;
  private nextLine = 1;

  constructor(
    src: AsyncIterable<Buffer | Uint8Array | string>,
    private readonly maxBytes: number,
    /** cut parts after a line end outside quotes, so that each part holds whole records */
    private readonly lineAligned = false,
    private readonly partBytes = PART_BYTES,
    private readonly maxRecordBytes = PART_BYTES,
  ) {
    this.it = src[Symbol.asyncIterator]();
  }

  async next(): Promise<IteratorResult<Buffer>> {
    // Parts are cut from what the consumer has already read (it asks for more once it has),
    // so a check has seen the header, and told its RecordKey, before the first cut.
    this.cut(false);
    const r = await this.it.next();
    if (r.done) {
      this.cut(true);
      return { done: true, value: undefined };
    }
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : bufferOf(r.value);
    this.bytes += b.length;
    if (this.bytes > this.maxBytes) {
      throw new MeterdataError(
        ErrorCode.FILE_TOO_LARGE,
        `file exceeds the ${this.maxBytes}-byte limit (MD_MAX_FILE_BYTES); split it or raise the limit`,
      );
    }
    this.hash.update(b);
    this.pending.push(b);
    this.pendingBytes += b.length;
    return { done: false, value: b };
  }

  private cut(final: boolean): void {
    const size = this.partBytes;
    while (this.pendingBytes >= size || (final && this.pendingBytes > 0)) {
      const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
      let take = Math.min(size, all.length);
      if (this.lineAligned && !(final && all.length <= size)) {
        const at = recordBoundary(all, size);
        if (at > 0) take = this.recordKey ? meterBoundary(all, at, this.recordKey) : at;
        else if (!final && all.length <= size + this.maxRecordBytes) {
          // No record ends in this part yet: wait for more bytes (bounded by the record limit).
          this.pending = [all];
          return;
        } else this.misaligned = true;
      }
      const part = all.subarray(0, take);
      this.parts.push(part);
      if (this.lineAligned) {
        this.firstLines.push(this.nextLine);
        this.nextLine += countByte(part, NL);
      }
      const rest = all.subarray(take);
      this.pending = rest.length ? [rest] : [];
      this.pendingBytes = rest.length;
    }
  }

  /** Consumers may stop early (or fail); the landing still reads everything. */
  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return { next: () => this.next(), return: async () => ({ done: true, value: undefined }) };
  }

  async drain(): Promise<void> {
    for (;;) if ((await this.next()).done) return;
  }
}

const NL = 0x0a;
const QUOTE = 0x22;

function countByte(buf: Buffer, byte: number, from = 0, to = buf.length): number {
  let n = 0;
  for (let p = buf.indexOf(byte, from); p >= 0 && p < to; p = buf.indexOf(byte, p + 1)) n++;
  return n;
}

/**
 * Where to cut `buf` (which starts at a record boundary) into a part of at most `limit` bytes
 * that ends with whole records: just after the last line end with an even number of quotes
 * before it (an odd count means the line end is inside a quoted field). 0: no such place.
 */
function recordBoundary(buf: Buffer, limit: number): number {
  let nl = buf.lastIndexOf(NL, Math.min(limit, buf.length) - 1);
  if (nl >= 0 && (buf.indexOf(QUOTE) < 0 || buf.indexOf(QUOTE) > nl)) return nl + 1;
  let quotes = nl >= 0 ? countByte(buf, QUOTE, 0, nl) : 0;
  const firstBack = nl;
  while (nl >= 0) {
    if (quotes % 2 === 0) return nl + 1;
    const prev = nl > 0 ? buf.lastIndexOf(NL, nl - 1) : -1;
    quotes -= countByte(buf, QUOTE, prev + 1, nl);
    nl = prev;
  }
  // No record ends within the limit (one record is longer than a part): end the part after
  // the first record that does end.
  nl = firstBack;
  quotes = nl >= 0 ? countByte(buf, QUOTE, 0, nl) : 0;
  for (;;) {
    const next = buf.indexOf(NL, nl + 1);
    if (next < 0) return 0;
    quotes += countByte(buf, QUOTE, nl + 1, next);
    nl = next;
    if (quotes % 2 === 0) return nl + 1;
  }
}

/** The line of `buf` that starts at `start`, without its line end. */
function lineAt(buf: Buffer, start: number): string {
  let end = buf.indexOf(NL, start);
  if (end < 0) end = buf.length;
  if (end > start && buf[end - 1] === 0x0d) end--;
  return buf.toString('utf8', start, end);
}

/**
 * Moves a cut at `at` (a line start in `buf`, which starts at a record boundary) back to where
 * the meter changes, so that a meter's records are not split between two parts (two chunks
 * merging into the same day rows wait for each other's commit, and validate them twice). Only
 * in the second half of the part, and only where no quote makes a line end ambiguous; the cut
 * stays where it was when the meter does not change there (one meter's records fill the half),
 * or when the lines do not say whose they are. Exports in meter order change the meter once
 * per meter: the binary search finds that change in a few look-ups.
 */
function meterBoundary(buf: Buffer, at: number, key: RecordKey): number {
  const nextEnd = buf.indexOf(NL, at);
  // The line after the cut is not here yet, or the part is a few bytes: nothing to move.
  if (nextEnd < 0 || at < 4) return at;
  let lo = buf.lastIndexOf(NL, (at >> 1) - 1) + 1;
  if (lo <= 0) return at; // the part's first line: the header, or too short to move
  const quote = buf.indexOf(QUOTE, lo);
  if (quote >= 0 && quote < nextEnd) return at;
  const after = key(lineAt(buf, at));
  const first = key(lineAt(buf, lo));
  if (after === null || first === null || first === after) return at;
  // key(line at lo) differs from `after`, key(line at hi) is `after`: close in on the change.
  let hi = at;
  for (;;) {
    const next = buf.indexOf(NL, lo) + 1;
    if (next >= hi) return hi;
    let mid = buf.lastIndexOf(NL, ((lo + hi) >> 1) - 1) + 1;
    if (mid <= lo) mid = next;
    const k = key(lineAt(buf, mid));
    if (k === null) return at;
    if (k === after) hi = mid;
    else lo = mid;
  }
}

/** Up to `max` writes in flight; the first failure is rethrown by the next push or drain. */
class WriteQueue {
  private inFlight: Array<Promise<void>> = [];
  private failure: unknown = null;
  constructor(private readonly max: number) {}

  async push(p: Promise<unknown>): Promise<void> {
    this.inFlight.push(
      p.then(
        () => undefined,
        (err) => {
          this.failure ??= err;
        },
      ),
    );
    if (this.inFlight.length >= this.max) await this.inFlight.shift();
    if (this.failure) throw this.failure;
  }

  async drain(): Promise<void> {
    await this.settle();
    if (this.failure) throw this.failure;
  }

  /** Waits for everything in flight, without throwing. */
  async settle(): Promise<void> {
    const all = this.inFlight;
    this.inFlight = [];
    await Promise.all(all);
  }
}

class Duplicate extends Error {
  constructor(readonly existingId: number) {
    super('duplicate');
  }
}

export function checkFormat(format: string): FormatName {
  if (!(FORMAT_NAMES as readonly string[]).includes(format)) {
    throw new MeterdataError(
      ErrorCode.UNKNOWN_FORMAT,
      `unknown format ${JSON.stringify(format)}; use one of ${FORMAT_NAMES.join(', ')}`,
    );
  }
  return format as FormatName;
}

export async function receiveFile(
  pool: ConnectionPool,
  input: AsyncIterable<Buffer | Uint8Array | string>,
  meta: ReceiveMeta,
  opts: ReceiveOptions,
): Promise<ReceiveResult> {
  const format = checkFormat(meta.format);
  const parse = parserFor(format, meta.profile ?? undefined); // validates the profile first
  // Line formats are only checked here; workers parse their parts (see structureCheckFor).
  const check = structureCheckFor(format, meta.profile ?? undefined);
  const keep = opts.keepRejections ?? 1000;
  let result: ReceiveResult;
  let shaSeen: string | null = null;
  try {
    result = await pool.tx(async (tx: Transaction) => {
      const fileId = await insertFile(tx, {
        source: meta.source,
        sourceSystem: meta.sourceSystem,
        commPath: meta.commPath,
        format,
        profile: meta.profile ?? null,
        meterOverride: meta.meter,
        fileName: meta.fileName,
        createdBy: meta.createdBy,
      });
      const partBytes = opts.partBytes ?? (check ? LINE_PART_BYTES[format] : null) ?? PART_BYTES;
      const tee = new Tee(input, opts.maxBytes, check !== null, partBytes);
      let firstPart = null as Buffer | null;
      let preambleLines = 0;
      // Writes queue on the transaction (its lock keeps them in order) while the parser goes
      // on with the next chunk; at most a few are in flight, so memory stays bounded.
      const writes = new WriteQueue(8);
      let partSeq = 0;
      const flushParts = async () => {
        while (tee.parts.length) {
          const part = tee.parts.shift()!;
          const seq = partSeq++;
          if (seq === 0) firstPart = part;
          await writes.push(compress(part).then((z) => insertFilePart(tx, fileId, seq, z, true)));
        }
      };
      let chunks = 0;
      let items = 0;
      let parseRejected = 0;
      let keptRejections = 0;
      /** Counts a chunk's rejections and keeps the file's first ones. */
      const noteRejections = async (rejections: Rejection[]) => {
        if (!rejections.length) return;
        parseRejected += rejections.length;
        if (keptRejections < keep) {
          await writes.push(insertRejections(tx, fileId, rejections, keep - keptRejections));
          keptRejections += Math.min(rejections.length, keep - keptRejections);
        }
      };
      /** Stages parsed readings as a chunk, and keeps the first rejections. */
      const stage = async (chunk: ParsedChunk) => {
        const n = chunk.readings.length;
        if (n) {
          const seq = chunks++;
          await writes.push(
            compress(encodeChunk(chunk.readings)).then((z) =>
              insertChunk(tx, fileId, seq, n, z, true),
            ),
          );
          items += n;
        }
        await noteRejections(chunk.rejections);
      };
      /** ESPI segment chunks: a worker parses their readings, and counts them */
      let segmentChunks = 0;
      let structural: MeterdataError | null = null;
      try {
        if (check) {
          const run = check(tee, {
            meter: meta.meter ?? undefined,
            onRecordKey: (key) => (tee.recordKey = key),
          });
          for (let r = await run.next(); ; r = await run.next()) {
            await flushParts();
            if (r.done) {
              preambleLines = r.value;
              break;
            }
          }
        } else if (format === 'espi') {
          // Readings stay in the stored parts; chunks record where (see espi-segments.ts).
          for await (const landed of landEspi(tee, {
            chunkSize: opts.chunkSize,
            meter: meta.meter ?? undefined,
            partBytes,
          })) {
            await flushParts();
            if (landed.kind === 'parsed') await stage(landed.chunk);
            else if (landed.readings) {
              const seq = chunks++;
              segmentChunks++;
              await writes.push(
                insertSegmentChunk(tx, fileId, seq, landed.readings, landed.segments),
              );
            }
          }
        } else
          for await (const chunk of parse(tee, {
            chunkSize: opts.chunkSize,
            meter: meta.meter ?? undefined,
          })) {
            await flushParts();
            await stage(chunk);
          }
      } catch (err) {
        await writes.settle();
        if (!isMeterdataError(err) || err.code === ErrorCode.FILE_TOO_LARGE) throw err;
        structural = err;
      }
      await tee.drain();
      await flushParts();
      await writes.drain();
      const sha256 = tee.hash.digest('hex');
      shaSeen = sha256;
      const existing = await fileIdBySha(tx, sha256);
      if (existing !== null) throw new Duplicate(existing);
      if (structural) {
        // Keep the file and the reason, but none of its readings.
        await tx.query(sql`DELETE FROM ingest_chunk WHERE file_id = ${fileId}`);
        await tx.query(sql`DELETE FROM ingest_rejection WHERE file_id = ${fileId}`);
        const where = describePosition(structural.message, structural.details);
        await completeFileReceipt(tx, fileId, {
          sha256,
          sizeBytes: tee.bytes,
          status: 'failed',
          batchId: null,
          chunksTotal: 0,
          itemsTotal: 0,
          parseRejected: 0,
          errorCode: structural.code,
          errorMessage: structural.message + where,
        });
        return {
          fileId,
          duplicate: false,
          status: 'failed' as const,
          chunks: 0,
          items: 0,
          parseRejected: 0,
          sizeBytes: tee.bytes,
          sha256,
          errorCode: structural.code,
          errorMessage: structural.message + where,
        };
      }
      let preamble: Buffer | null = null;
      if (check) {
        // Structure checked: every part is a chunk of whole records.
        if (tee.misaligned)
          throw new Error('landing: a part of a well-formed file was cut inside a record');
        chunks = partSeq;
        await insertPartChunks(tx, fileId, tee.firstLines);
        if (preambleLines > 0 && firstPart) {
          let end = -1;
          for (let i = 0; i < preambleLines; i++) end = firstPart.indexOf(0x0a, end + 1);
          preamble = Buffer.from(end < 0 ? firstPart : firstPart.subarray(0, end + 1));
        }
      }
      const [batch] = await tx.query(sql`
        INSERT INTO ingest_batch (source, format, created_by, source_system, comm_path, file_id, received_at)
        SELECT source, format, created_by, source_system, comm_path, id, received_at FROM ingest_file WHERE id = ${fileId}
        RETURNING id`);
      const status = chunks === 0 ? ('done' as const) : ('received' as const);
      // Readings parsed here are counted now; those in parts and segments once workers parse them.
      const counted = !check && segmentChunks === 0;
      await completeFileReceipt(tx, fileId, {
        sha256,
        sizeBytes: tee.bytes,
        status,
        batchId: Number(batch.id),
        chunksTotal: chunks,
        itemsTotal: counted ? items : null,
        parseRejected,
        preamble,
        preambleLines: check ? preambleLines : null,
      });
      return {
        fileId,
        duplicate: false,
        status,
        chunks,
        items: counted ? items : null,
        parseRejected,
        sizeBytes: tee.bytes,
        sha256,
      };
    });
  } catch (err) {
    if (err instanceof Duplicate) return duplicateResult(pool, err.existingId);
    if (sqlStateOf(err) === SqlState.UNIQUE_VIOLATION && shaSeen) {
      // The same content landed concurrently and the other upload committed first.
      const id = await fileIdBySha(pool, shaSeen);
      if (id !== null) return duplicateResult(pool, id);
    }
    throw err;
  }
  if (opts.queue && result.chunks > 0) {
    const refs: ChunkRef[] = Array.from({ length: result.chunks }, (_, seq) => ({
      fileId: result.fileId,
      seq,
    }));
    await opts.queue.publish(refs);
    await markPublished(pool, refs);
  }
  return result;
}

async function duplicateResult(pool: ConnectionPool, id: number): Promise<ReceiveResult> {
  const [f] = await pool.query(sql`
    SELECT id, status, chunks_total, items_total, parse_rejected, size_bytes, sha256, error_code, error_message
    FROM ingest_file WHERE id = ${id}`);
  return {
    fileId: Number(f.id),
    duplicate: true,
    status: f.status === 'failed' ? 'failed' : f.status === 'done' ? 'done' : 'received',
    chunks: Number(f.chunks_total ?? 0),
    items: f.items_total === null ? null : Number(f.items_total),
    parseRejected: Number(f.parse_rejected),
    sizeBytes: Number(f.size_bytes),
    sha256: f.sha256,
    ...(f.error_code ? { errorCode: f.error_code, errorMessage: f.error_message } : {}),
  };
}

/** " (line 12, byte 345)" unless the message already says where. */
function describePosition(message: string, details: Record<string, unknown> | undefined): string {
  if (!details || /\bline\b|\bbyte\b/.test(message)) return '';
  const parts: string[] = [];
  if (typeof details.line === 'number') parts.push(`line ${details.line}`);
  if (typeof details.byteOffset === 'number') parts.push(`byte ${details.byteOffset}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}
