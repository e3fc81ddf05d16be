/**
 * Staged chunks: parsed readings stored column-wise as JSON. Repeated strings (serials,
 * channels, units) become dictionary indexes, timestamps and positions deltas from the
 * previous item, so a 20,000-reading chunk is a fraction of its CSV and codes in milliseconds.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { type ReadingInput } from '../domain/readings';

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

export function encodeChunk(items: readonly ReadingInput[], positions: readonly number[]): Buffer {
  const dict = new Map<string, number>();
  const enc: EncodedChunk = { v: 2, d: [], m: [], c: [], u: [], t: [], i: [], x: [], q: [], p: [] };
  const ref = (s: string): number => {
    let k = dict.get(s);
    if (k === undefined) {
      k = enc.d.length;
      dict.set(s, k);
      enc.d.push(s);
    }
    return k;
  };
  let prevT = 0;
  let prevP = 0;
  let allValid = true;
  for (let k = 0; k < items.length; k++) {
    const it = items[k]!;
    enc.m.push(ref(it.meterSerial));
    enc.c.push(ref(it.channel));
    enc.u.push(ref(it.unit));
    if (typeof it.intervalStart === 'number') {
      enc.t.push(it.intervalStart - prevT);
      prevT = it.intervalStart;
    } else {
      enc.t.push(it.intervalStart);
    }
    enc.i.push(it.intervalSeconds);
    // Plain decimals travel as numbers (same value, fewer bytes); anything else stays a
    // string so validation still sees and rejects it as sent.
    const v = it.value;
    enc.x.push(typeof v === 'string' && v.length < 16 && PLAIN_DECIMAL.test(v) ? +v : v);
    const q = it.quality ?? null;
    if (q !== null) allValid = false;
    enc.q.push(q);
    const pos = positions[k] ?? k;
    enc.p.push(pos - prevP);
    prevP = pos;
  }
  if (allValid) enc.q = [];
  return Buffer.from(JSON.stringify(enc));
}

export function decodeChunk(buf: Buffer): { items: ReadingInput[]; positions: number[] } {
  const enc = JSON.parse(buf.toString('utf8')) as EncodedChunk;
  if (enc.v !== 2 || !Array.isArray(enc.m)) throw new Error('unknown chunk encoding');
  const n = enc.m.length;
  const items: ReadingInput[] = new Array(n);
  const positions: number[] = new Array(n);
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
    positions[k] = p;
    items[k] = {
      meterSerial: enc.d[enc.m[k]!]!,
      channel: enc.d[enc.c[k]!]!,
      intervalStart: start,
      intervalSeconds: enc.i[k]!,
      value: enc.x[k]!,
      unit: enc.d[enc.u[k]!]!,
      quality: enc.q.length ? (enc.q[k] ?? null) : null,
    };
  }
  return { items, positions };
}
