/**
 * Staged chunks: parsed readings stored column-wise as JSON. Repeated strings (serials,
 * channels, units) become dictionary indexes, timestamps and positions deltas from the
 * previous item, so a 20,000-reading chunk is a fraction of its CSV and codes in milliseconds.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ReadingColumns, StringRefs } from '../domain/reading-columns';

const deflate = promisify(zlib.deflateRaw);
const inflate = promisify(zlib.inflateRaw);

/**
 * Compression runs on libuv's thread pool, beside the parser on the main thread: on the write
 * path it is close to free, and it cuts what PostgreSQL stores and receives several-fold.
 */
export function compress(buf: Buffer): Promise<Buffer> {
  return deflate(buf, { level: 1 });
}

export function decompress(buf: Buffer): Promise<Buffer> {
  return inflate(buf);
}

interface EncodedChunk {
  v: 2;
  /** dictionary of strings (serials, channels, units) */
  d: string[];
  m: number[];
  c: number[];
  u: number[];
  /** interval start: delta from the previous item's (first: absolute), or a string */
  t: Array<number | string>;
  i: number[];
  x: Array<number | string>;
  q: Array<number | null>;
  /** position: delta from the previous item's */
  p: number[];
}

const PLAIN_DECIMAL = /^-?\d{1,9}(\.\d{1,6})?$/;

export function encodeChunk(cols: ReadingColumns): Buffer {
  const n = cols.length;
  const enc: EncodedChunk = {
    v: 2,
    d: [],
    m: new Array<number>(n),
    c: new Array<number>(n),
    u: new Array<number>(n),
    t: new Array<number | string>(n),
    i: new Array<number>(n),
    x: new Array<number | string>(n),
    q: [],
    p: new Array<number>(n),
  };
  const refs = new StringRefs(enc.d);
  let prevT = 0;
  let prevP = 0;
  let allValid = true;
  for (let k = 0; k < n; k++) {
    enc.m[k] = refs.ref(cols.serialAt(k));
    enc.c[k] = refs.ref(cols.channelAt(k));
    enc.u[k] = refs.ref(cols.unitAt(k));
    enc.i[k] = cols.secondsAt(k);
    const start = cols.startAt(k);
    if (typeof start === 'number') {
      enc.t[k] = start - prevT;
      prevT = start;
    } else {
      enc.t[k] = start;
    }
    // Plain decimals travel as numbers (same value, fewer bytes); anything else stays a
    // string so validation still sees and rejects it as sent.
    const v = cols.valueAt(k);
    enc.x[k] = typeof v === 'string' && v.length < 16 && PLAIN_DECIMAL.test(v) ? +v : v;
    if (cols.qualityAt(k) !== null) allValid = false;
    const pos = cols.positionAt(k);
    enc.p[k] = pos - prevP;
    prevP = pos;
  }
  if (!allValid) enc.q = Array.from({ length: n }, (_, k) => cols.qualityAt(k));
  return Buffer.from(JSON.stringify(enc));
}

export function decodeChunk(buf: Buffer): ReadingColumns {
  const enc = JSON.parse(buf.toString('utf8')) as EncodedChunk;
  if (enc.v !== 2 || !Array.isArray(enc.m)) throw new Error('unknown chunk encoding');
  const n = enc.m.length;
  const cols = new ReadingColumns();
  let t = 0;
  let p = 0;
  for (let k = 0; k < n; k++) {
    const tk = enc.t[k]!;
    let start: number | string;
    if (typeof tk === 'number') {
      t += tk;
      start = t;
    } else start = tk;
    p += enc.p[k]!;
    cols.push(
      enc.d[enc.m[k]!]!,
      enc.d[enc.c[k]!]!,
      start,
      enc.i[k]!,
      enc.x[k]!,
      enc.d[enc.u[k]!]!,
      enc.q.length ? (enc.q[k] ?? null) : null,
      p,
    );
  }
  return cols;
}
