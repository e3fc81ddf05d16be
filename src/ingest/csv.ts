/**
 * The documented readings CSV layout (docs/formats.md), read in two streaming passes: a fast
 * structural check of the whole file (encoding, header, record sizes, quoting) that rejects it
 * before anything is written, then csv-parse turning the rows into chunks of ReadingInput.
 */
import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream';
import { parse, type Parser } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { ErrorCode, MeterdataError } from '../errors';
import { type ReadingInput, type Rejection } from '../domain/readings';

/** The columns a readings file must have, mapped by header name (any order, extras ignored). */
export const READINGS_CSV_COLUMNS = [
  'meter_serial',
  'channel',
  'interval_start',
  'interval_seconds',
  'value',
  'unit',
] as const;
type Column = (typeof READINGS_CSV_COLUMNS)[number];

/** Longest record accepted, in bytes: bounds memory for a giant line or a file with no newlines. */
export const MAX_RECORD_BYTES = 64 * 1024;
export const DEFAULT_CHUNK_ROWS = 20_000;

export interface ReadingChunk {
  items: ReadingInput[];
  /** the file line number of each item */
  lines: number[];
  /** rows rejected while reading (wrong field count, bad interval_seconds), by line number */
  rejected: Rejection[];
  /** bytes of the file read so far */
  bytesRead: number;
}

export interface CsvCheck {
  bytes: number;
  /** lines in the file, the header included */
  lines: number;
  /** header name → column index */
  columns: Record<Column, number>;
  /** how many fields the header has (rows must have as many) */
  width: number;
  /** the record-size limit the file was checked against (pass 2 uses the same) */
  maxRecordBytes: number;
}

const READ_CHUNK = 1 << 20;
const NL = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;

function malformed(message: string, details: Record<string, unknown>): MeterdataError {
  return new MeterdataError(ErrorCode.MALFORMED_FILE, message, { details });
}

// ---------------------------------------------------------------------------------------------
// UTF-8

/**
 * Scans `buf[start, end)` for UTF-8: the index of the first invalid byte, or of an incomplete
 * sequence cut off by `end` (`incomplete` true), or -1 when all of it is valid.
 */
export function scanUtf8(
  buf: Uint8Array,
  start = 0,
  end = buf.length,
): { index: number; incomplete: boolean } {
  let i = start;
  while (i < end) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f; // no UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f; // nothing above U+10FFFF
    } else return { index: i, incomplete: false };
    for (let k = 1; k <= n; k++) {
      if (i + k >= end) return { index: i, incomplete: true };
      const c = buf[i + k]!;
      if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) {
        return { index: i, incomplete: false };
      }
    }
    i += n + 1;
  }
  return { index: -1, incomplete: false };
}

/**
 * scanUtf8 for a chunk of a stream, fast: the native check on all but a possibly cut-off last
 * character, the byte-by-byte scan only to locate a problem.
 */
function utf8Prefix(buf: Buffer): { index: number; incomplete: boolean } {
  // Where a multi-byte character cut by the end of the buffer would start.
  let cut = buf.length;
  for (let k = 1; k <= 3 && k <= buf.length; k++) {
    const b = buf[buf.length - k]!;
    if (b < 0x80) break;
    if (b >= 0xc0) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      if (need > k) cut = buf.length - k;
      break;
    }
  }
  if (isUtf8(buf.subarray(0, cut))) {
    return cut === buf.length ? { index: -1, incomplete: false } : scanUtf8(buf, cut);
  }
  return scanUtf8(buf);
}

/** Throws MALFORMED_FILE (with line and byte offset) unless the whole buffer is UTF-8. */
export function assertUtf8(buf: Buffer, what = 'file'): void {
  if (isUtf8(buf)) return;
  const r = scanUtf8(buf);
  if (r.index < 0) return;
  let line = 1;
  for (let p = buf.indexOf(NL); p >= 0 && p < r.index; p = buf.indexOf(NL, p + 1)) line++;
  throw invalidUtf8(what, line, r.index);
}

function invalidUtf8(what: string, line: number, offset: number): MeterdataError {
  return malformed(
    `${what} is not valid UTF-8: invalid byte sequence at line ${line}, byte offset ${offset}; re-export it as UTF-8`,
    { line, byteOffset: offset },
  );
}

// ---------------------------------------------------------------------------------------------
// Pass 1: structure

/**
 * Reads the whole file once without parsing rows: valid UTF-8, a header with every column,
 * no record over MAX_RECORD_BYTES, and RFC 4180 quoting (a quote opens a field or not at all;
 * a closing quote is followed by a comma or the end of the line; every quote is closed).
 * At least as strict as csv-parse with default options, so pass 2 cannot fail half-way.
 */
export async function checkReadingsCsv(
  file: string,
  opts: { maxRecordBytes?: number; readBytes?: number; onProgress?: (bytes: number) => void } = {},
): Promise<CsvCheck> {
  const maxRecord = opts.maxRecordBytes ?? MAX_RECORD_BYTES;
  let offset = 0; // file offset of the current chunk
  let line = 1;
  let recordStart = 0; // file offset where the current record starts
  let recordLine = 1;
  let inQuotes = false;
  let quoteLine = 0;
  /** inside quotes, the previous byte was a quote: an escaped quote or the closing one */
  let quotePending = false;
  /** after a closing quote: only a comma, CR LF or LF may follow */
  let afterClose = false;
  let afterCloseCr = false;
  let prev = COMMA; // the byte before the current one (a comma at a record start)
  let carry: Buffer = Buffer.alloc(0);
  const header: Buffer[] = [];
  let headerDone = false;
  let headerBytes = 0;
  let lastByte = NL;

  const fail = (what: string, at: number): never => {
    throw malformed(`${what} at line ${line}, byte offset ${at}`, { line, byteOffset: at });
  };
  const recordTooLong = (at: number): never => {
    throw malformed(
      `line ${recordLine} is longer than ${maxRecord.toLocaleString('en-US')} bytes (a record without line ends?); records are limited to bound memory`,
      { line: recordLine, byteOffset: at },
    );
  };

  // At least 4 bytes a read, so a byte order mark is never split.
  const stream = fs.createReadStream(file, {
    highWaterMark: Math.max(4, opts.readBytes ?? READ_CHUNK),
  });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    // Encoding first, carrying a multi-byte sequence split by the chunk boundary.
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const u = utf8Prefix(buf);
    if (u.index >= 0 && !u.incomplete) {
      const bad = offset - carry.length + u.index;
      let l = line;
      const rel = u.index - carry.length;
      for (let p = chunk.indexOf(NL); p >= 0 && p < rel; p = chunk.indexOf(NL, p + 1)) l++;
      stream.destroy();
      throw invalidUtf8('file', l, bad);
    }
    carry = u.incomplete ? Buffer.from(buf.subarray(u.index)) : Buffer.alloc(0);

    if (!headerDone) {
      const nl = chunk.indexOf(NL);
      const part = nl < 0 ? chunk : chunk.subarray(0, nl);
      header.push(part);
      headerBytes += part.length;
      headerDone = nl >= 0;
    }

    const len = chunk.length;
    if (len) lastByte = chunk[len - 1]!;
    // A UTF-8 byte order mark is not part of the first field.
    let i = offset === 0 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf ? 3 : 0;
    let nextQuote = -2;
    while (i < len) {
      if (!inQuotes && !afterClose) {
        // Fast path: unquoted text up to the next line end.
        let nl = chunk.indexOf(NL, i);
        if (nl < 0) nl = len;
        // The next quote is looked up once and reused: most files have none at all.
        if (nextQuote !== -1 && nextQuote < i) nextQuote = chunk.indexOf(QUOTE, i);
        const q = nextQuote;
        if (q < 0 || q >= nl) {
          if (nl > i) prev = chunk[nl - 1]!;
          if (offset + nl - recordStart > maxRecord) recordTooLong(offset + nl);
          if (nl === len) break;
          i = nl + 1;
          line++;
          recordStart = offset + i;
          recordLine = line;
          prev = COMMA;
          continue;
        }
        const before = q > i ? chunk[q - 1]! : prev;
        if (before !== COMMA || offset + q - recordStart > maxRecord) {
          if (before !== COMMA) {
            fail(
              'a quote inside an unquoted field (quote the whole field and double its quotes)',
              offset + q,
            );
          }
          recordTooLong(offset + q);
        }
        inQuotes = true;
        quoteLine = line;
        quotePending = false;
        i = q + 1;
        continue;
      }
      const b = chunk[i]!;
      if (offset + i - recordStart > maxRecord) recordTooLong(offset + i);
      if (afterClose) {
        if (afterCloseCr) {
          if (b !== NL)
            fail('a carriage return after a closing quote not followed by a line end', offset + i);
          afterCloseCr = false;
        }
        if (b === COMMA) {
          afterClose = false;
          prev = COMMA;
          i++;
        } else if (b === NL) {
          afterClose = false;
          i++;
          line++;
          recordStart = offset + i;
          recordLine = line;
          prev = COMMA;
        } else if (b === CR) {
          afterCloseCr = true;
          i++;
        } else {
          fail(
            'text after a closing quote (a field is either quoted entirely or not at all)',
            offset + i,
          );
        }
        continue;
      }
      // Inside quotes: look for the next quote, counting lines on the way.
      if (quotePending) {
        quotePending = false;
        if (b === QUOTE) {
          i++; // an escaped quote
          continue;
        }
        inQuotes = false;
        afterClose = true;
        continue; // re-examine b as the byte after the closing quote
      }
      const q = chunk.indexOf(QUOTE, i);
      const stop = q < 0 ? len : q;
      for (let p = chunk.indexOf(NL, i); p >= 0 && p < stop; p = chunk.indexOf(NL, p + 1)) line++;
      if (offset + stop - recordStart > maxRecord) recordTooLong(offset + stop);
      if (q < 0) break;
      quotePending = true;
      i = q + 1;
    }
    offset += len;
    opts.onProgress?.(offset);
  }
  if (carry.length) {
    throw invalidUtf8('file', line, offset - carry.length);
  }
  if (inQuotes && !quotePending) {
    throw malformed(
      `the file ends inside a quoted field opened at line ${quoteLine} (truncated file?)`,
      { line: quoteLine, byteOffset: offset },
    );
  }
  if (offset === 0 || headerBytes === 0) {
    throw new MeterdataError(
      ErrorCode.MISSING_COLUMN,
      `the file has no header line; the first line must name the columns ${READINGS_CSV_COLUMNS.join(',')}`,
      { details: { line: 1, missing: [...READINGS_CSV_COLUMNS] } },
    );
  }
  const { columns, width } = mapHeader(Buffer.concat(header).toString('utf8'));
  // A last line without a line end is still a line; a final LF does not start a new one.
  const lines = lastByte === NL ? line - 1 : line;
  return { bytes: offset, lines: Math.max(lines, 1), columns, width, maxRecordBytes: maxRecord };
}

/** Maps header names (case-insensitive, trimmed, BOM tolerated) to column indexes. */
export function mapHeader(headerLine: string): { columns: Record<Column, number>; width: number } {
  let names: string[];
  try {
    const text = headerLine.replace(/^\uFEFF/, '').replace(/\r$/, '');
    names = (parseSync(text, { relax_column_count: true }) as string[][])[0] ?? [];
  } catch (err) {
    throw new MeterdataError(ErrorCode.MALFORMED_FILE, 'the header line is not valid CSV', {
      cause: err,
      details: { line: 1 },
    });
  }
  const index = new Map<string, number>();
  names.forEach((n, i) => {
    const key = n.trim().toLowerCase();
    if (index.has(key) && (READINGS_CSV_COLUMNS as readonly string[]).includes(key)) {
      throw new MeterdataError(
        ErrorCode.MALFORMED_FILE,
        `column ${key} appears twice in the header; keep one`,
        { details: { line: 1, column: key } },
      );
    }
    if (!index.has(key)) index.set(key, i);
  });
  const missing = READINGS_CSV_COLUMNS.filter((c) => !index.has(c));
  if (missing.length) {
    throw new MeterdataError(
      ErrorCode.MISSING_COLUMN,
      `the header lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; expected ${READINGS_CSV_COLUMNS.join(',')} (any order, extra columns ignored)`,
      { details: { line: 1, missing, found: names } },
    );
  }
  const columns = Object.fromEntries(READINGS_CSV_COLUMNS.map((c) => [c, index.get(c)!])) as Record<
    Column,
    number
  >;
  return { columns, width: names.length };
}

// ---------------------------------------------------------------------------------------------
// Pass 2: rows

const INTERVAL_SECONDS_RE = /^\s*\d{1,6}\s*$/;

/**
 * Streams the rows of a file that passed checkReadingsCsv as chunks of about `chunkRows`
 * items. Memory is bounded by the chunk size and the record-size limit.
 */
export async function* readReadingsCsv(
  file: string,
  check: CsvCheck,
  opts: { chunkRows?: number; readBytes?: number } = {},
): AsyncGenerator<ReadingChunk> {
  const chunkRows = Math.max(1, opts.chunkRows ?? DEFAULT_CHUNK_ROWS);
  const { columns: col, width } = check;
  let bytesRead = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytesRead += chunk.length;
      cb(null, chunk);
    },
  });
  const parser: Parser = parse({
    bom: true,
    relax_column_count: true,
    skip_empty_lines: false,
    record_delimiter: ['\n', '\r\n'],
    max_record_size: check.maxRecordBytes,
  });
  const source = fs.createReadStream(file, { highWaterMark: opts.readBytes ?? READ_CHUNK });
  pipeline(source, counter, parser, () => {
    // errors reach the iteration below
  });

  let chunk: ReadingChunk = { items: [], lines: [], rejected: [], bytesRead: 0 };
  let rows = 0;
  let nextLine = 1;
  let first = true;
  for await (const rec of parser as AsyncIterable<string[]>) {
    const line = nextLine;
    // Line numbers are counted here (csv-parse's per-record info is slow): one per record
    // plus the line ends inside quoted fields.
    nextLine++;
    for (const f of rec) if (f.indexOf('\n') >= 0) nextLine += f.split('\n').length - 1;
    if (first) {
      first = false;
      continue; // the header, checked in pass 1
    }
    if (rec.length === 1 && rec[0]!.trim() === '') continue; // a blank line
    rows++;
    if (rec.length !== width) {
      chunk.rejected.push({
        index: line,
        code: ErrorCode.BAD_USER_INPUT,
        message: `line has ${rec.length} field${rec.length === 1 ? '' : 's'}, the header ${width}; rows must not shift columns`,
        ...(rec.length > col.meter_serial ? { meterSerial: rec[col.meter_serial]!.trim() } : {}),
      });
    } else {
      const serial = rec[col.meter_serial]!.trim();
      const secs = rec[col.interval_seconds]!;
      if (!INTERVAL_SECONDS_RE.test(secs)) {
        chunk.rejected.push({
          index: line,
          code: ErrorCode.BAD_VALUE,
          message: `interval_seconds ${JSON.stringify(secs)} is not a whole number of seconds`,
          meterSerial: serial,
        });
      } else {
        chunk.items.push({
          meterSerial: serial,
          channel: rec[col.channel]!,
          intervalStart: rec[col.interval_start]!.trim(),
          intervalSeconds: Number(secs),
          value: rec[col.value]!,
          unit: rec[col.unit]!,
        });
        chunk.lines.push(line);
      }
    }
    if (rows % chunkRows === 0) {
      chunk.bytesRead = bytesRead;
      yield chunk;
      chunk = { items: [], lines: [], rejected: [], bytesRead: 0 };
    }
  }
  if (chunk.items.length || chunk.rejected.length) {
    chunk.bytesRead = bytesRead;
    yield chunk;
  }
}
