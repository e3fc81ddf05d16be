/**
 * Readings as they come from a parser, held column-wise: one array per field instead of an
 * object per reading. A worker holds a part's readings (about 18,000) from parsing until they
 * are validated; as objects they survive the young generation and are copied by the garbage
 * collector, as columns they are a few arrays (numbers unboxed, strings shared by reference).
 */
import type { ReadingInput } from './readings';

/** What validation reads from a set of readings, whichever form holds them. */
export interface ReadingSource {
  readonly length: number;
  serialAt(k: number): string;
  positionAt(k: number): number;
  fill(k: number, into: ReadingInput): ReadingInput;
}

export class ReadingColumns implements ReadingSource {
  readonly serial: string[] = [];
  readonly channel: string[] = [];
  /** epoch ms, or the text as sent (validation parses or rejects it) */
  readonly start: Array<number | string> = [];
  readonly seconds: number[] = [];
  /** a number, or the text as sent */
  readonly value: Array<number | string> = [];
  readonly unit: string[] = [];
  readonly quality: Array<number | null> = [];
  /** line number, record ordinal or batch index: where the reading came from */
  readonly position: number[] = [];

  static from(items: readonly ReadingInput[], positions?: readonly number[]): ReadingColumns {
    const c = new ReadingColumns();
    for (let k = 0; k < items.length; k++) c.pushItem(items[k]!, positions ? positions[k]! : k);
    return c;
  }

  get length(): number {
    return this.serial.length;
  }

  serialAt(k: number): string {
    return this.serial[k]!;
  }

  positionAt(k: number): number {
    return this.position[k]!;
  }

  push(
    serial: string,
    channel: string,
    start: number | string,
    seconds: number,
    value: number | string,
    unit: string,
    quality: number | null | undefined,
    position: number,
  ): void {
    this.serial.push(serial);
    this.channel.push(channel);
    this.start.push(start);
    this.seconds.push(seconds);
    this.value.push(value);
    this.unit.push(unit);
    this.quality.push(quality ?? null);
    this.position.push(position);
  }

  pushItem(item: ReadingInput, position: number): void {
    this.push(
      item.meterSerial,
      item.channel,
      item.intervalStart,
      item.intervalSeconds,
      item.value,
      item.unit,
      item.quality,
      position,
    );
  }

  /** Reading `k` written into `into` (a caller going through many reuses one object). */
  fill(k: number, into: ReadingInput): ReadingInput {
    into.meterSerial = this.serial[k]!;
    into.channel = this.channel[k]!;
    into.intervalStart = this.start[k]!;
    into.intervalSeconds = this.seconds[k]!;
    into.value = this.value[k]!;
    into.unit = this.unit[k]!;
    into.quality = this.quality[k] ?? null;
    return into;
  }

  /** Reading `k` as an object; `quality` is present only when the source gave one. */
  item(k: number): ReadingInput {
    const item = this.fill(k, {} as ReadingInput);
    if (item.quality === null) delete item.quality;
    return item;
  }

  items(): ReadingInput[] {
    const out = new Array<ReadingInput>(this.length);
    for (let k = 0; k < out.length; k++) out[k] = this.item(k);
    return out;
  }

  /** Moves readings [0, n) into new columns and keeps the rest. */
  takeFirst(n: number): ReadingColumns {
    const head = new ReadingColumns();
    for (const f of FIELDS) {
      const from = this[f] as unknown[];
      const to = head[f] as unknown[];
      for (let k = 0; k < n && k < from.length; k++) to.push(from[k]);
      from.splice(0, n);
    }
    return head;
  }

  /** Appends reading `k` of `from`, at another position. */
  copyFrom(from: ReadingColumns, k: number, position: number): void {
    this.pushItem(from.fill(k, {} as ReadingInput), position);
  }
}

const FIELDS = [
  'serial',
  'channel',
  'start',
  'seconds',
  'value',
  'unit',
  'quality',
  'position',
] as const;

/**
 * Readings in typed arrays, for passing between threads without copying: strings (serials,
 * channels, units) as indexes into a small dictionary, numbers unboxed. A start or value sent
 * as text (to be rejected by validation, with its text) travels in `texts`.
 */
export interface PackedReadings {
  n: number;
  dict: string[];
  serial: Int32Array;
  channel: Int32Array;
  unit: Int32Array;
  start: Float64Array;
  seconds: Float64Array;
  value: Float64Array;
  /** NaN: none given */
  quality: Float64Array;
  position: Float64Array;
  /** reading index → its start and value as sent, where either was text */
  texts: Array<[number, number | string, number | string]>;
}

export function packReadings(c: ReadingColumns): PackedReadings {
  const n = c.length;
  const p: PackedReadings = {
    n,
    dict: [],
    serial: new Int32Array(n),
    channel: new Int32Array(n),
    unit: new Int32Array(n),
    start: new Float64Array(n),
    seconds: new Float64Array(n),
    value: new Float64Array(n),
    quality: new Float64Array(n),
    position: new Float64Array(n),
    texts: [],
  };
  const refs = new StringRefs(p.dict);
  for (let k = 0; k < n; k++) {
    p.serial[k] = refs.ref(c.serial[k]!);
    p.channel[k] = refs.ref(c.channel[k]!);
    p.unit[k] = refs.ref(c.unit[k]!);
    const start = c.start[k]!;
    const value = c.value[k]!;
    if (typeof start === 'number' && typeof value === 'number') {
      p.start[k] = start;
      p.value[k] = value;
    } else p.texts.push([k, start, value]);
    p.seconds[k] = c.seconds[k]!;
    const q = c.quality[k];
    p.quality[k] = q === null || q === undefined ? NaN : q;
    p.position[k] = c.position[k]!;
  }
  return p;
}

/**
 * Indexes of strings in a dictionary that grows as new ones come (serials, channels, units:
 * a few per thousand readings). The string of the previous call is remembered, as readings
 * of one meter come together.
 */
export class StringRefs {
  private readonly index = new Map<string, number>();
  private last: string | undefined;
  private lastRef = -1;

  constructor(readonly list: string[] = []) {}

  ref(s: string): number {
    if (s === this.last) return this.lastRef;
    let r = this.index.get(s);
    if (r === undefined) {
      r = this.list.length;
      this.index.set(s, r);
      this.list.push(s);
    }
    this.last = s;
    return (this.lastRef = r);
  }
}

/** The buffers of a packed set, for a postMessage transfer list. */
export function packedBuffers(p: PackedReadings): ArrayBuffer[] {
  return [p.serial, p.channel, p.unit, p.start, p.seconds, p.value, p.quality, p.position].map(
    (a) => a.buffer as ArrayBuffer,
  );
}

/** A packed set read in place. */
export class PackedSource implements ReadingSource {
  private readonly texts: Map<number, [number | string, number | string]>;
  constructor(private readonly p: PackedReadings) {
    this.texts = new Map(p.texts.map(([k, s, v]) => [k, [s, v]]));
  }

  get length(): number {
    return this.p.n;
  }

  serialAt(k: number): string {
    return this.p.dict[this.p.serial[k]!]!;
  }

  positionAt(k: number): number {
    return this.p.position[k]!;
  }

  fill(k: number, into: ReadingInput): ReadingInput {
    const p = this.p;
    into.meterSerial = p.dict[p.serial[k]!]!;
    into.channel = p.dict[p.channel[k]!]!;
    into.unit = p.dict[p.unit[k]!]!;
    into.intervalSeconds = p.seconds[k]!;
    const text = this.texts.size ? this.texts.get(k) : undefined;
    if (text) {
      into.intervalStart = text[0];
      into.value = text[1];
    } else {
      into.intervalStart = p.start[k]!;
      into.value = p.value[k]!;
    }
    const q = p.quality[k]!;
    into.quality = Number.isNaN(q) ? null : q;
    return into;
  }
}
