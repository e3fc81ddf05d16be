/**
 * Pieces every head-end parser shares: defaults, the structural error, strict number parsing
 * and the chunk builder that bounds how many items a parser holds before yielding them.
 */
import { ErrorCode, MeterdataError } from '../../errors';
import { type ReadingInput, type Rejection, parseReadingValue } from '../../domain/readings';
import { ReadingColumns } from '../../domain/reading-columns';
import type { ParsedChunk } from './types';

export const DEFAULT_CHUNK_SIZE = 20_000;
export const DEFAULT_MAX_RECORD_BYTES = 1 << 20;
/** Input is decoded and parsed in pieces of at most this many bytes, whatever the caller sends. */
export const PIECE_BYTES = 64 * 1024;

export interface ErrorPosition {
  line?: number;
  byteOffset?: number;
  column?: number;
}

/** A structural error: the whole file is rejected (landing validates before writing). */
export function malformed(message: string, at: ErrorPosition = {}): MeterdataError {
  const details: Record<string, unknown> = {};
  if (at.line !== undefined) details.line = at.line;
  if (at.byteOffset !== undefined) details.byteOffset = at.byteOffset;
  if (at.column !== undefined) details.column = at.column;
  return new MeterdataError(ErrorCode.MALFORMED_FILE, message, { details });
}

export function positiveInt(raw: number | undefined, fallback: number, what: string): number {
  if (raw === undefined) return fallback;
  if (!Number.isInteger(raw) || raw < 1) {
    throw new MeterdataError(ErrorCode.BAD_USER_INPUT, `${what} must be a positive integer`);
  }
  return raw;
}

/**
 * Whether `text` holds `want` at `at`. A loop over character codes: the parsers compare short
 * known text on every row, and String.prototype.startsWith looks up Symbol.match on its
 * argument first, which costs more than the comparison.
 */
export function holdsAt(text: string, at: number, want: string): boolean {
  if (at + want.length > text.length) return false;
  for (let i = 0; i < want.length; i++) {
    if (text.charCodeAt(at + i) !== want.charCodeAt(i)) return false;
  }
  return true;
}

/** A Buffer over the same memory as `bytes` (Buffer.from(bytes) would copy them). */
export function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The chunk size of a parse (ParseOptions.chunkSize), validated. */
export function chunkSizeOf(opts: { chunkSize?: number }): number {
  return positiveInt(opts.chunkSize, DEFAULT_CHUNK_SIZE, 'chunkSize');
}

/** The record-size limit of a parse (ParseOptions.maxRecordBytes), validated. */
export function maxRecordBytesOf(opts: { maxRecordBytes?: number }): number {
  return positiveInt(opts.maxRecordBytes, DEFAULT_MAX_RECORD_BYTES, 'maxRecordBytes');
}

const COMMA_DECIMAL_RE = /^[+-]?(\d+(,\d*)?|,\d+)([eE][+-]?\d+)?$/;

/**
 * Parses a decimal strictly (no NaN, Infinity, overflow, thousands separators). With a comma
 * separator the point is refused, so "1.234" in a comma file is never read as 1.234 or 1234.
 */
export function parseDecimal(raw: string, separator: '.' | ','): number | undefined {
  if (separator === '.') return parseReadingValue(raw);
  const s = raw.trim();
  if (!COMMA_DECIMAL_RE.test(s)) return undefined;
  return parseReadingValue(s.replace(',', '.'));
}

/**
 * A parsed chunk over its columns. `items` (objects) are built on first use: the worker and
 * the landing read the columns; tests and small callers read items.
 */
class ColumnChunk implements ParsedChunk {
  private built: ReadingInput[] | null = null;
  constructor(
    readonly readings: ReadingColumns,
    readonly rejections: Rejection[],
    readonly bytesRead: number,
  ) {}

  get items(): ReadingInput[] {
    return (this.built ??= this.readings.items());
  }

  get positions(): number[] {
    return this.readings.positions();
  }
}

/** Collects readings and rejections; hands them out in chunks of at most `size` readings. */
export class ChunkBuilder {
  private cols: ReadingColumns;
  private rejections: Rejection[] = [];

  constructor(private readonly size: number) {
    this.cols = this.fresh();
  }

  /** Columns sized for a chunk (up to a part's usual count, beyond which they grow). */
  private fresh(): ReadingColumns {
    return new ReadingColumns(Math.min(this.size, 1 << 15));
  }

  add(item: ReadingInput, position: number): void {
    this.cols.pushItem(item, position);
  }

  /** The columns being filled: a parser's common path pushes a reading's fields to them. */
  get columns(): ReadingColumns {
    return this.cols;
  }

  reject(index: number, code: ErrorCode, message: string, meterSerial?: string): void {
    const r: Rejection = { index, code, message };
    if (meterSerial) r.meterSerial = meterSerial;
    this.rejections.push(r);
  }

  /** true once a chunk's worth of readings (or of rejections, which are held too) is waiting */
  get full(): boolean {
    return this.cols.length + this.rejections.length >= this.size;
  }

  get empty(): boolean {
    return this.cols.length === 0 && this.rejections.length === 0;
  }

  /** The next chunk: at most `size` readings, and every rejection collected so far. */
  take(bytesRead: number): ParsedChunk {
    let readings: ReadingColumns;
    if (this.cols.length > this.size) readings = this.cols.takeFirst(this.size);
    else {
      readings = this.cols;
      this.cols = this.fresh();
    }
    const rejections = this.rejections;
    this.rejections = [];
    return new ColumnChunk(readings, rejections, bytesRead);
  }

  /** Yields full chunks (call after each piece of input). */
  *drain(bytesRead: number): Generator<ParsedChunk> {
    while (this.full) yield this.take(bytesRead);
  }

  /** Yields whatever is left (call at the end of the input). */
  *flush(bytesRead: number): Generator<ParsedChunk> {
    while (!this.empty) yield this.take(bytesRead);
  }
}
