/**
 * Readings as they come from a parser, held column-wise: one array per field instead of an
 * object per reading. A worker holds a part's readings (about 18,000) from parsing until they
 * are validated; as objects they survive the young generation and are copied by the garbage
 * collector, as columns they are a few arrays (numbers unboxed, strings shared by reference).
 */
import type { ReadingInput } from './readings';

export class ReadingColumns {
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
    const item: ReadingInput = {
      meterSerial: this.serial[k]!,
      channel: this.channel[k]!,
      intervalStart: this.start[k]!,
      intervalSeconds: this.seconds[k]!,
      value: this.value[k]!,
      unit: this.unit[k]!,
    };
    const q = this.quality[k];
    if (q !== null && q !== undefined) item.quality = q;
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
    this.push(
      from.serial[k]!,
      from.channel[k]!,
      from.start[k]!,
      from.seconds[k]!,
      from.value[k]!,
      from.unit[k]!,
      from.quality[k],
      position,
    );
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
