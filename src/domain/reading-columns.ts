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

/**
 * Readings column-wise, in typed arrays that grow by doubling, so that a reading costs no
 * allocation of its own: serials, channels and units as indexes into a dictionary of the few
 * strings a file repeats, numbers unboxed. A start or value sent as text (validation parses
 * or rejects it, with its text) is kept aside by index; its typed slot holds NaN.
 */
export class ReadingColumns implements ReadingSource {
  /** the dictionary the string columns index */
  private refs = new StringRefs();
  private serial: Int32Array;
  private channel: Int32Array;
  private unit: Int32Array;
  /** the last string of each column and its index (readings of one meter come together) */
  private lastSerial: string | undefined;
  private lastSerialRef = -1;
  private lastChannel: string | undefined;
  private lastChannelRef = -1;
  private lastUnit: string | undefined;
  private lastUnitRef = -1;
  private n = 0;
  /** epoch ms */
  private start: Float64Array;
  private seconds: Float64Array;
  /** kWh, Wh or MWh as sent (see unit) */
  private value: Float64Array;
  /** NaN: none given */
  private quality: Float64Array;
  /** line number, record ordinal or batch index: where the reading came from */
  private position: Float64Array;
  /** index → start or value as sent, where it was text */
  private startText: Map<number, string> | null = null;
  private valueText: Map<number, string> | null = null;

  constructor(capacity = 1024) {
    const c = Math.max(16, capacity);
    this.serial = new Int32Array(c);
    this.channel = new Int32Array(c);
    this.unit = new Int32Array(c);
    this.start = new Float64Array(c);
    this.seconds = new Float64Array(c);
    this.value = new Float64Array(c);
    this.quality = new Float64Array(c);
    this.position = new Float64Array(c);
  }

  static from(items: readonly ReadingInput[], positions?: readonly number[]): ReadingColumns {
    const c = new ReadingColumns(items.length);
    for (let k = 0; k < items.length; k++) c.pushItem(items[k]!, positions ? positions[k]! : k);
    return c;
  }

  get length(): number {
    return this.n;
  }

  serialAt(k: number): string {
    return this.refs.list[this.serial[k]!]!;
  }

  channelAt(k: number): string {
    return this.refs.list[this.channel[k]!]!;
  }

  unitAt(k: number): string {
    return this.refs.list[this.unit[k]!]!;
  }

  /** epoch ms, or the text as sent */
  startAt(k: number): number | string {
    return this.startText?.get(k) ?? this.start[k]!;
  }

  secondsAt(k: number): number {
    return this.seconds[k]!;
  }

  /** a number, or the text as sent */
  valueAt(k: number): number | string {
    return this.valueText?.get(k) ?? this.value[k]!;
  }

  qualityAt(k: number): number | null {
    const q = this.quality[k]!;
    return q === q ? q : null;
  }

  positionAt(k: number): number {
    return this.position[k]!;
  }

  setPosition(k: number, position: number): void {
    this.position[k] = position;
  }

  /** The positions as a plain array (a copy). */
  positions(): number[] {
    return Array.from(this.position.subarray(0, this.n));
  }

  private grow(): void {
    const c = this.start.length * 2;
    const wider = <A extends Float64Array | Int32Array>(a: A): A => {
      const b = new (a.constructor as new (n: number) => A)(c);
      b.set(a);
      return b;
    };
    this.serial = wider(this.serial);
    this.channel = wider(this.channel);
    this.unit = wider(this.unit);
    this.start = wider(this.start);
    this.seconds = wider(this.seconds);
    this.value = wider(this.value);
    this.quality = wider(this.quality);
    this.position = wider(this.position);
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
    const k = this.n;
    if (k === this.start.length) this.grow();
    if (serial !== this.lastSerial) {
      this.lastSerialRef = this.refs.ref(serial);
      this.lastSerial = serial;
    }
    this.serial[k] = this.lastSerialRef;
    if (channel !== this.lastChannel) {
      this.lastChannelRef = this.refs.ref(channel);
      this.lastChannel = channel;
    }
    this.channel[k] = this.lastChannelRef;
    if (unit !== this.lastUnit) {
      this.lastUnitRef = this.refs.ref(unit);
      this.lastUnit = unit;
    }
    this.unit[k] = this.lastUnitRef;
    if (typeof start === 'number') this.start[k] = start;
    else {
      this.start[k] = NaN;
      (this.startText ??= new Map()).set(k, start);
    }
    this.seconds[k] = seconds;
    if (typeof value === 'number') this.value[k] = value;
    else {
      this.value[k] = NaN;
      (this.valueText ??= new Map()).set(k, value);
    }
    this.quality[k] = quality ?? NaN;
    this.position[k] = position;
    this.n = k + 1;
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
    into.meterSerial = this.serialAt(k);
    into.channel = this.channelAt(k);
    // (separate stores: one expression of number | string would box every number it passes)
    if (this.startText === null) into.intervalStart = this.start[k]!;
    else into.intervalStart = this.startAt(k);
    into.intervalSeconds = this.seconds[k]!;
    if (this.valueText === null) into.value = this.value[k]!;
    else into.value = this.valueAt(k);
    into.unit = this.unitAt(k);
    const q = this.quality[k]!;
    into.quality = q === q ? q : null;
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
    const m = Math.min(n, this.n);
    const head = new ReadingColumns(m);
    for (let k = 0; k < m; k++) head.copyFrom(this, k, this.position[k]!);
    const rest = new ReadingColumns(this.n - m);
    for (let k = m; k < this.n; k++) rest.copyFrom(this, k, this.position[k]!);
    this.refs = rest.refs;
    this.lastSerial = this.lastChannel = this.lastUnit = undefined;
    this.serial = rest.serial;
    this.channel = rest.channel;
    this.unit = rest.unit;
    this.n = rest.n;
    this.start = rest.start;
    this.seconds = rest.seconds;
    this.value = rest.value;
    this.quality = rest.quality;
    this.position = rest.position;
    this.startText = rest.startText;
    this.valueText = rest.valueText;
    return head;
  }

  /** Appends reading `k` of `from`, at another position. */
  copyFrom(from: ReadingColumns, k: number, position: number): void {
    this.push(
      from.serialAt(k),
      from.channelAt(k),
      from.startAt(k),
      from.seconds[k]!,
      from.valueAt(k),
      from.unitAt(k),
      from.qualityAt(k),
      position,
    );
  }

  /** Packed for a transfer between threads (see PackedReadings): the numbers are copied. */
  pack(): PackedReadings {
    const n = this.n;
    const p: PackedReadings = {
      n,
      dict: this.refs.list.slice(),
      serial: this.serial.slice(0, n),
      channel: this.channel.slice(0, n),
      unit: this.unit.slice(0, n),
      start: this.start.slice(0, n),
      seconds: this.seconds.slice(0, n),
      value: this.value.slice(0, n),
      quality: this.quality.slice(0, n),
      position: this.position.slice(0, n),
      texts: [],
    };
    const texts = new Set([...(this.startText?.keys() ?? []), ...(this.valueText?.keys() ?? [])]);
    for (const k of [...texts].sort((a, b) => a - b)) {
      p.texts.push([k, this.startAt(k), this.valueAt(k)]);
    }
    return p;
  }
}

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
