/**
 * Columnar series and local-time roll-ups. A series is the API's unit of transfer: a start,
 * a step and arrays, with missing intervals explicit as nulls. Roll-ups bucket a series by
 * hour, day or month in the meter's IANA time zone, so a spring-forward day has 92
 * fifteen-minute intervals and a fall-back day 100.
 */
import { DateTime } from 'luxon';
import { DAY_MS, type DayRow, isMissing } from './readings';
import { isSubstitute, MISSING_QUALITY } from './channel';

export interface Series {
  /** first interval start, epoch ms */
  start: number;
  intervalSeconds: number;
  values: Array<number | null>;
  quality: Array<number | null>;
}

/** Snaps [from, to) outward to the interval grid. */
export function snapRange(
  fromMs: number,
  toMs: number,
  intervalSeconds: number,
): { from: number; to: number } {
  const step = intervalSeconds * 1000;
  return { from: Math.floor(fromMs / step) * step, to: Math.ceil(toMs / step) * step };
}

/**
 * Where a day row's intervals fall on the grid [fromMs, toMs) of `step` ms: its indexes
 * [first, last) inside the range, at grid index offset + i; null for a day stored at another
 * interval length.
 */
function onGrid(
  row: DayRow,
  fromMs: number,
  toMs: number,
  step: number,
): { first: number; last: number; offset: number } | null {
  if (row.vals.length * step !== DAY_MS) return null;
  const dayStart = row.day * DAY_MS;
  return {
    first: Math.max(0, Math.ceil((fromMs - dayStart) / step)),
    last: Math.min(row.vals.length, Math.floor((toMs - dayStart) / step)),
    offset: (dayStart - fromMs) / step,
  };
}

/** Lays day rows onto the grid [fromMs, toMs); intervals without a reading are null. */
export function buildSeries(
  rows: readonly DayRow[],
  fromMs: number,
  toMs: number,
  intervalSeconds: number,
): Series {
  const step = intervalSeconds * 1000;
  const n = Math.max(0, Math.round((toMs - fromMs) / step));
  const values = new Array<number | null>(n).fill(null);
  const quality = new Array<number | null>(n).fill(null);
  for (const row of rows) {
    const span = onGrid(row, fromMs, toMs, step);
    if (!span) continue;
    const { first, last, offset } = span;
    for (let i = first; i < last; i++) {
      const v = row.vals[i]!;
      if (isMissing(v)) continue;
      values[offset + i] = v;
      const q = row.quality[i]!;
      quality[offset + i] = q === MISSING_QUALITY ? null : q;
    }
  }
  return { start: fromMs, intervalSeconds, values, quality };
}

/**
 * A series in typed arrays, for computation over many intervals (the VEE rules): NaN where an
 * interval has no value, MISSING_QUALITY where it has no quality code. The same grid as Series;
 * no per-interval boxing, so a month of intervals is two flat buffers.
 */
export interface PackedSeries {
  start: number;
  intervalSeconds: number;
  values: Float64Array;
  quality: Uint8Array;
}

/** buildSeries into typed arrays (see PackedSeries). */
export function buildPackedSeries(
  rows: readonly DayRow[],
  fromMs: number,
  toMs: number,
  intervalSeconds: number,
): PackedSeries {
  const step = intervalSeconds * 1000;
  const n = Math.max(0, Math.round((toMs - fromMs) / step));
  const values = new Float64Array(n).fill(NaN);
  const quality = new Uint8Array(n).fill(MISSING_QUALITY);
  for (const row of rows) {
    const span = onGrid(row, fromMs, toMs, step);
    if (!span) continue;
    const { first, last, offset } = span;
    const vals = row.vals;
    const q = row.quality;
    for (let i = first; i < last; i++) {
      const v = vals[i]!;
      if (isMissing(v)) continue;
      values[offset + i] = v;
      quality[offset + i] = q[i]!;
    }
  }
  return { start: fromMs, intervalSeconds, values, quality };
}

/** A Series as a PackedSeries (the same object when it is one already). */
export function packSeries(s: Series | PackedSeries): PackedSeries {
  if (s.values instanceof Float64Array && s.quality instanceof Uint8Array) return s as PackedSeries;
  const n = s.values.length;
  const values = new Float64Array(n);
  const quality = new Uint8Array(n).fill(MISSING_QUALITY);
  for (let i = 0; i < n; i++) {
    const v = s.values[i];
    if (v === null || v === undefined) {
      values[i] = NaN;
      continue;
    }
    values[i] = v;
    const q = s.quality[i];
    if (q !== null && q !== undefined) quality[i] = q;
  }
  return { start: s.start, intervalSeconds: s.intervalSeconds, values, quality };
}

export type Resolution = 'HOUR' | 'DAY' | 'MONTH';

export interface Bucket {
  /** UTC ms of the bucket start (the local period start, clipped to the series start) */
  start: number;
  end: number;
  /** local start of the whole bucket, ISO with offset */
  localStart: string;
  /** sum of the present intervals, kWh; null when none is present */
  value: number | null;
  count: number;
  /** intervals of the bucket inside the series range */
  expected: number;
  missing: number;
  estimated: number;
}

function unitOf(resolution: Resolution): 'hour' | 'day' | 'month' {
  switch (resolution) {
    case 'HOUR':
      return 'hour';
    case 'DAY':
      return 'day';
    case 'MONTH':
      return 'month';
    default: {
      const never: never = resolution;
      throw new Error(`unknown resolution ${String(never)}`);
    }
  }
}

/**
 * Buckets a series by local hour, day or month. Bucket boundaries are computed once per bucket
 * with the zone's rules, then the intervals are walked in order: O(intervals + buckets).
 * An interval belongs to the bucket its start falls in.
 */
export function rollup(series: Series, timeZone: string, resolution: Resolution): Bucket[] {
  const unit = unitOf(resolution);
  const step = series.intervalSeconds * 1000;
  const end = series.start + series.values.length * step;
  const buckets: Bucket[] = [];
  if (series.values.length === 0) return buckets;
  let local = DateTime.fromMillis(series.start, { zone: timeZone }).startOf(unit);
  if (!local.isValid) throw new Error(`invalid time zone ${timeZone}`);
  let i = 0;
  while (local.toMillis() < end) {
    const next = local.plus({ [`${unit}s`]: 1 });
    const bStart = Math.max(local.toMillis(), series.start);
    const bEnd = Math.min(next.toMillis(), end);
    let value: number | null = null;
    let count = 0;
    let estimated = 0;
    let expected = 0;
    for (; i < series.values.length && series.start + i * step < bEnd; i++) {
      expected++;
      const v = series.values[i];
      if (v === null || v === undefined) continue;
      value = (value ?? 0) + v;
      count++;
      const q = series.quality[i];
      if (q !== null && q !== undefined && isSubstitute(q)) estimated++;
    }
    if (expected > 0) {
      buckets.push({
        start: bStart,
        end: bEnd,
        localStart: local.toISO({ suppressMilliseconds: true })!,
        value,
        count,
        expected,
        missing: expected - count,
        estimated,
      });
    }
    local = next;
  }
  return buckets;
}

/** Sum of the present values (null when none). */
export function seriesTotal(values: ReadonlyArray<number | null>): number | null {
  let total: number | null = null;
  for (const v of values) if (v !== null && v !== undefined) total = (total ?? 0) + v;
  return total;
}

/** Per interval of [fromMs, toMs): the stored version and the batch that wrote the value. */
export function seriesProvenance(
  rows: readonly DayRow[],
  fromMs: number,
  toMs: number,
  intervalSeconds: number,
): { versions: Array<number | null>; batches: Array<number | null> } {
  const step = intervalSeconds * 1000;
  const n = Math.max(0, Math.round((toMs - fromMs) / step));
  const versions = new Array<number | null>(n).fill(null);
  const batches = new Array<number | null>(n).fill(null);
  for (const row of rows) {
    const span = onGrid(row, fromMs, toMs, step);
    if (!span) continue;
    const { first, last, offset } = span;
    for (let i = first; i < last; i++) {
      if (isMissing(row.vals[i]!)) continue;
      versions[offset + i] = row.versions ? row.versions[i]! : 1;
      batches[offset + i] = row.batches[row.batchIdx ? row.batchIdx[i]! : 0] ?? null;
    }
  }
  return { versions, batches };
}
