/**
 * Staged chunks: parsed readings stored column-wise as JSON (serials as a dictionary), so a
 * 20,000-reading chunk is a few hundred kilobytes and decodes in milliseconds.
 */
import { type ReadingInput } from '../domain/readings';

interface EncodedChunk {
  v: 1;
  serials: string[];
  m: number[];
  c: string[];
  t: Array<number | string>;
  i: number[];
  x: Array<number | string>;
  u: string[];
  q: Array<number | null>;
  p: number[];
}

export function encodeChunk(items: readonly ReadingInput[], positions: readonly number[]): Buffer {
  const dict = new Map<string, number>();
  const enc: EncodedChunk = {
    v: 1,
    serials: [],
    m: [],
    c: [],
    t: [],
    i: [],
    x: [],
    u: [],
    q: [],
    p: [],
  };
  for (let k = 0; k < items.length; k++) {
    const it = items[k]!;
    let d = dict.get(it.meterSerial);
    if (d === undefined) {
      d = enc.serials.length;
      dict.set(it.meterSerial, d);
      enc.serials.push(it.meterSerial);
    }
    enc.m.push(d);
    enc.c.push(it.channel);
    enc.t.push(it.intervalStart);
    enc.i.push(it.intervalSeconds);
    enc.x.push(it.value);
    enc.u.push(it.unit);
    enc.q.push(it.quality ?? null);
    enc.p.push(positions[k] ?? k);
  }
  return Buffer.from(JSON.stringify(enc));
}

export function decodeChunk(buf: Buffer): { items: ReadingInput[]; positions: number[] } {
  const enc = JSON.parse(buf.toString('utf8')) as EncodedChunk;
  if (enc.v !== 1 || !Array.isArray(enc.m)) throw new Error('unknown chunk encoding');
  const items: ReadingInput[] = new Array(enc.m.length);
  for (let k = 0; k < enc.m.length; k++) {
    items[k] = {
      meterSerial: enc.serials[enc.m[k]!]!,
      channel: enc.c[k]!,
      intervalStart: enc.t[k]!,
      intervalSeconds: enc.i[k]!,
      value: enc.x[k]!,
      unit: enc.u[k]!,
      quality: enc.q[k] ?? null,
    };
  }
  return { items, positions: enc.p };
}
