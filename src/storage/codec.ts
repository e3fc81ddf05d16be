/** Encodes day rows to and from the column formats of reading_day (arrays and bytea). */
import { type DayRow, isoDateOfDay } from '../domain/readings';

/** 'YYYY-MM-DD' of an epoch day, as a `date` parameter takes it (see isoDateOfDay). */
export function epochDayToDate(day: number): string {
  return isoDateOfDay(day);
}

export function dateToEpochDay(d: string | Date): number {
  const ms = typeof d === 'string' ? Date.parse(`${d.slice(0, 10)}T00:00:00Z`) : d.getTime();
  return Math.round(ms / 86_400_000);
}

/**
 * The text[] literal of one real[] literal per row (`{"{1.5,NULL}",…}`; NULL for a missing
 * value, NaN or null), each value written as String() writes it, which PostgreSQL rounds to
 * float4. Written as bytes into one reused buffer and read out as one string: a chunk's insert
 * carries tens of thousands of values, and building their text by concatenation made several
 * short-lived strings per value. Meter values carry at most four decimals, and those are
 * written from integers (several times faster than the general shortest-digits conversion);
 * anything else goes that general way.
 */
export function realArraysLiteral(rows: ReadonlyArray<ArrayLike<number | null>>): string {
  if (rows.length === 0) return '{}';
  const at = writeRealArrays(rows);
  return literalBuffer.toString('latin1', 0, at);
}

/**
 * realArraysLiteral's loop, writing into `literalBuffer` (grown as needed); the end. A function
 * that ends in its return: its long loop is optimised while it runs, and code after the loop
 * that the optimised code had never seen sent each call back to the interpreter.
 */
function writeRealArrays(rows: ReadonlyArray<ArrayLike<number | null>>): number {
  let buf = literalBuffer;
  let at = 0;
  buf[at++] = LBRACE;
  for (let r = 0; r < rows.length; r++) {
    const vals = rows[r]!;
    // At most 13 bytes a value (sign, 6 + 4 digits, point and a comma; NULL is 4), a comma, two
    // quotes, two braces and the closing brace; a value with more digits goes the general way,
    // which makes its own room.
    const room = 6 + vals.length * 13;
    if (at + room > buf.length) buf = literalBuffer = grown(buf, at, room);
    if (r) buf[at++] = COMMA;
    buf[at++] = QUOTE;
    buf[at++] = LBRACE;
    for (let i = 0; i < vals.length; i++) {
      if (i) buf[at++] = COMMA;
      const v = vals[i];
      if (v === null || v === undefined || v !== v) {
        buf[at++] = 0x4e; // N
        buf[at++] = 0x55; // U
        buf[at++] = 0x4c; // L
        buf[at++] = 0x4c; // L
        continue;
      }
      // Four decimals at most, written from integers; the same text as String(v).
      const n = Math.round(v * 1e4);
      if (n / 1e4 !== v || n >= 2 ** 31 || n <= -(2 ** 31)) {
        const text = String(v);
        const need = text.length + 4 + (vals.length - i) * 13;
        if (at + need > buf.length) buf = literalBuffer = grown(buf, at, need);
        at += buf.write(text, at, 'latin1');
        continue;
      }
      let a = n;
      if (n < 0) {
        buf[at++] = 0x2d; // -
        a = -n;
      }
      const whole = Math.floor(a / 1e4);
      let fraction = a - whole * 1e4;
      at = writeDigits(buf, at, whole, 1);
      if (fraction === 0) continue;
      let places = 4;
      while (fraction % 10 === 0) {
        fraction /= 10;
        places--;
      }
      buf[at++] = 0x2e; // .
      at = writeDigits(buf, at, fraction, places);
    }
    buf[at++] = RBRACE;
    buf[at++] = QUOTE;
    // Room for the closing brace is kept at each row (one byte more than the row needs).
    if (r === rows.length - 1) buf[at++] = RBRACE;
  }
  return at;
}

const LBRACE = 0x7b;
const RBRACE = 0x7d;
const COMMA = 0x2c;
const QUOTE = 0x22;
let literalBuffer: Buffer = Buffer.allocUnsafe(1 << 16);
const digitScratch = new Uint8Array(12);

/** A buffer with room for `need` bytes after `at`, holding the bytes before it. */
function grown(buf: Buffer, at: number, need: number): Buffer {
  let size = buf.length * 2;
  while (size < at + need) size *= 2;
  const next = Buffer.allocUnsafe(size);
  buf.copy(next, 0, 0, at);
  return next;
}

/** The digits of an integer 0 ≤ n < 2^31, at least `min` of them (zero-padded); the new end. */
function writeDigits(buf: Buffer, at: number, n: number, min: number): number {
  const d = digitScratch;
  let k = 0;
  do {
    const q = Math.floor(n / 10);
    d[k++] = 48 + (n - q * 10);
    n = q;
  } while (n > 0);
  while (k < min) d[k++] = 48;
  while (k > 0) buf[at++] = d[--k]!;
  return at;
}

/**
 * A text[] literal of the given elements (NULL for null), built in one pass: the driver would
 * otherwise serialise the array itself, scanning every element twice for characters to escape.
 */
export function textArrayLiteral(elems: ReadonlyArray<string | null>): string {
  let s = '{';
  for (let i = 0; i < elems.length; i++) {
    if (i) s += ',';
    const e = elems[i];
    if (e === null || e === undefined) s += 'NULL';
    else if (e.includes('"') || e.includes('\\'))
      s += '"' + e.replace(/[\\"]/g, (c) => '\\' + c) + '"';
    else s += '"' + e + '"';
  }
  return s + '}';
}

/**
 * Parses PostgreSQL's text form of a one-dimensional real[] ('{1.5,NULL,2}') into a day row's
 * values, NaN for NULL. The driver's generic array parser walks every character; a split is
 * several times faster, and a meter-month is 2,976 of these.
 */
export function parseRealArray(text: string): Float64Array {
  if (text.length <= 2) return new Float64Array(0);
  const parts = text.slice(1, -1).split(',');
  const out = new Float64Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    out[i] = p === 'NULL' ? NaN : +p;
  }
  return out;
}

export function intArrayLiteral(vals: ReadonlyArray<number> | null): string | null {
  return vals ? numberArrayLiteral(vals) : null;
}

/**
 * The array literal of numbers (`{1,2.5}`), for a numeric array parameter: the driver would
 * quote and escape every element of a JS array it is given. A loop, not `join`: V8 inlines
 * `join` into the caller for the one kind of array it has seen, and the caller deoptimised (and
 * was compiled again) at each new kind (small integers, doubles, empty), up to three times
 * per worker for the statements of a chunk.
 */
export function numberArrayLiteral(vals: ReadonlyArray<number>): string {
  const n = vals.length;
  if (n === 0) return '{}';
  let s = '{' + String(vals[0]);
  for (let i = 1; i < n; i++) s += ',' + String(vals[i]);
  return s + '}';
}

export function encodeBatchIdx(row: DayRow): string | null {
  if (!row.batchIdx) return null;
  const wide = row.batches.length > 255;
  const buf = Buffer.alloc(row.batchIdx.length * (wide ? 2 : 1));
  for (let i = 0; i < row.batchIdx.length; i++) {
    if (wide) buf.writeUInt16BE(row.batchIdx[i]!, i * 2);
    else buf[i] = row.batchIdx[i]!;
  }
  return buf.toString('hex');
}

export function decodeBatchIdx(buf: Buffer | null, n: number): Uint16Array | null {
  if (!buf) return null;
  const out = new Uint16Array(n);
  const wide = buf.length === n * 2;
  for (let i = 0; i < n; i++) out[i] = wide ? buf.readUInt16BE(i * 2) : buf[i]!;
  return out;
}

export interface DayRowRecord {
  meter_id: number;
  channel: number;
  day: Date | string;
  /** real[] as text (see parseRealArray) */
  vals: string;
  quality: Buffer;
  batches: number[];
  batch_idx: Buffer | null;
  versions: number[] | null;
  vee_flags: number[] | null;
  version: number;
}

export function decodeDayRow(r: DayRowRecord): DayRow {
  return {
    meterId: Number(r.meter_id),
    channel: r.channel as 1 | 2,
    day: dateToEpochDay(r.day),
    vals: parseRealArray(r.vals),
    quality: new Uint8Array(r.quality),
    batches: r.batches.map(Number),
    batchIdx: decodeBatchIdx(r.batch_idx, r.quality.length),
    versions: r.versions,
    veeFlags: r.vee_flags,
    version: r.version,
  };
}
