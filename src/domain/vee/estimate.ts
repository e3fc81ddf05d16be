/**
 * Estimation: fills the missing intervals of a window, never touching a value that is there.
 *
 * Order of methods, per gap (a maximal run of missing intervals):
 * 1. intervals touched by a known outage: 0 kWh, method `outage_zero`, quality 11 (calculated):
 *    "an outage is zero usage, not missing data" (DOMAIN.md); they are never interpolation end
 *    points and never take a share of a register difference;
 * 2. gaps of at most `maxInterpolationIntervals` with a good value on both sides: linear
 *    interpolation (`linear`, quality 9); with a good value on one side only: that value
 *    repeated (`flat`, quality 9);
 * 3. longer gaps (and short ones without a good neighbour): register proration when register
 *    reads on interval boundaries bound the gap (`proration`, quality 11: calculated from actual
 *    register reads, not from history), shaped by the like day when there is one, else even;
 * 4. otherwise like-day history (`like_day`, quality 8, estimated from history): the same local
 *    clock times of the first usable day of Itron's two-week like-day lookup;
 * 5. otherwise the interval stays null.
 *
 * A "good" value is present, not substitute (ESPI 8, 9, 11, 12, 15), not failed validation (10)
 * and not in an outage: estimates are never built on estimates.
 */
import { ErrorCode, MeterdataError } from '../../errors';
import { isSubstitute, Quality } from '../channel';
import type { Series } from '../series';
import {
  addDays,
  localDate,
  localMinuteOfDay,
  localOccurrence,
  weekdayOf,
  zoneOf,
} from './calendar';
import { range, runsWhere } from './stats';
import type { RegisterRead, TimeSpan } from './types';

export const ESTIMATION_METHODS = [
  'linear',
  'flat',
  'like_day',
  'proration',
  'outage_zero',
] as const;
export type EstimationMethod = (typeof ESTIMATION_METHODS)[number];

/** The ESPI quality code each method writes. */
export function estimationQuality(method: EstimationMethod): Quality {
  switch (method) {
    case 'linear':
    case 'flat':
      return Quality.ESTIMATED_INTERPOLATION;
    case 'like_day':
      return Quality.ESTIMATED_HISTORY;
    case 'proration':
    case 'outage_zero':
      return Quality.CALCULATED;
    default: {
      const never: never = method;
      throw new Error(`unknown estimation method ${String(never)}`);
    }
  }
}

/** Itron's example maximum for interpolation: 3 hours of 15-minute intervals. */
export const DEFAULT_MAX_INTERPOLATION_INTERVALS = 12;

export interface LikeDay {
  /** local date (yyyy-mm-dd) in the estimation's time zone; intervals of other dates are ignored */
  localDate: string;
  /** validated intervals of that day; only good values are used */
  series: Series;
}

export interface EstimateInput {
  series: Series;
  /** the meter's IANA zone: like days and holidays are local dates */
  timeZone: string;
  /** default 12 (3 h at 15 min, Itron's example) */
  maxInterpolationIntervals?: number;
  likeDays?: LikeDay[];
  /** local dates (yyyy-mm-dd) estimated as, and looked up like, Sundays */
  holidays?: string[];
  /** cumulative kWh, same basis as the values; only reads on interval boundaries are used */
  registerReads?: RegisterRead[];
  outages?: TimeSpan[];
}

export interface EstimateResult {
  values: Array<number | null>;
  quality: Array<number | null>;
  /** how each interval was filled; null for intervals left as they were */
  method: Array<EstimationMethod | null>;
}

/**
 * Itron's two-week like-day lookup (IEE MDM, "Two week like-day historical estimation"), as day
 * offsets from the day being estimated, best first. Itron: Monday → prior Monday, Monday two
 * weeks prior; Tuesday → prior Tuesday, prior Wednesday, prior Thursday; Wednesday → prior
 * Wednesday, this week's Tuesday, prior Tuesday, prior Thursday; Thursday → prior Thursday, this
 * week's Wednesday, prior Wednesday, this week's Tuesday, prior Tuesday; Friday, Saturday, Sunday
 * → the prior week's same day. Following Itron's two-week reference period, the same weekday two
 * weeks prior closes every list. Holidays: see `likeDayCandidates`.
 */
export const LIKE_DAY_OFFSETS: Readonly<Record<number, readonly number[]>> = Object.freeze({
  1: [-7, -14],
  2: [-7, -6, -5, -14],
  3: [-7, -1, -8, -6, -14],
  4: [-7, -1, -8, -2, -9, -14],
  5: [-7, -14],
  6: [-7, -14],
  7: [-7, -14],
});

/**
 * Candidate like days for a local date, best first. A holiday is estimated from Sundays (this
 * week's Sunday, i.e. the last one before it, then the one before that); a non-holiday never uses
 * a holiday as its like day.
 */
export function likeDayCandidates(
  date: string,
  holidays: ReadonlySet<string> = new Set(),
): string[] {
  const weekday = weekdayOf(date);
  if (holidays.has(date)) {
    const back = weekday === 7 ? 7 : weekday;
    return [addDays(date, -back), addDays(date, -back - 7)];
  }
  return (LIKE_DAY_OFFSETS[weekday] ?? [])
    .map((o) => addDays(date, o))
    .filter((d) => !holidays.has(d));
}

const isGoodQuality = (q: number | null | undefined): boolean =>
  q === null || q === undefined || (!isSubstitute(q) && q !== Quality.FAILED_VALIDATION);

function checkSeries(series: Series, what: string): void {
  if (!Number.isInteger(series.intervalSeconds) || series.intervalSeconds <= 0) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `${what}: interval of ${series.intervalSeconds} s is not a positive whole number`,
    );
  }
  if (series.quality.length !== series.values.length) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `${what}: ${series.values.length} values but ${series.quality.length} quality codes`,
    );
  }
}

/** Fills the nulls of `input.series`; see the module comment for the methods and their order. */
export function estimateGaps(input: EstimateInput): EstimateResult {
  const { series } = input;
  checkSeries(series, 'series');
  const zone = zoneOf(input.timeZone);
  const maxInterp = input.maxInterpolationIntervals ?? DEFAULT_MAX_INTERPOLATION_INTERVALS;
  if (!Number.isInteger(maxInterp) || maxInterp < 0) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `maxInterpolationIntervals must be a whole number ≥ 0, got ${maxInterp}`,
    );
  }
  const n = series.values.length;
  const step = series.intervalSeconds * 1000;
  const tsOf = (i: number) => series.start + i * step;
  const values = series.values.slice();
  const quality = series.quality.slice();
  const method: Array<EstimationMethod | null> = new Array<EstimationMethod | null>(n).fill(null);
  const set = (i: number, v: number, m: EstimationMethod) => {
    values[i] = v;
    quality[i] = estimationQuality(m);
    method[i] = m;
  };

  // 1. outages
  const outage = new Uint8Array(n);
  for (const o of input.outages ?? []) {
    if (!(o.to > o.from)) continue;
    const a = Math.max(0, Math.floor((o.from - series.start) / step));
    const b = Math.min(n, Math.ceil((o.to - series.start) / step));
    if (b > a) outage.fill(1, a, b);
  }
  const isNull = (i: number) => series.values[i] === null || series.values[i] === undefined;
  for (let i = 0; i < n; i++) if (isNull(i) && outage[i]) set(i, 0, 'outage_zero');
  const good = (i: number) =>
    i >= 0 && i < n && !isNull(i) && !outage[i] && isGoodQuality(series.quality[i]);

  // like days: local date → (slot → value), good values only
  const holidays = new Set(input.holidays ?? []);
  const like = new Map<string, Map<number, number>>();
  for (const d of input.likeDays ?? []) {
    checkSeries(d.series, `like day ${d.localDate}`);
    const s = d.series;
    const dStep = s.intervalSeconds * 1000;
    if (s.intervalSeconds !== series.intervalSeconds) continue; // another grid: no slot matches
    const slots = like.get(d.localDate) ?? new Map<number, number>();
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i];
      if (v === null || v === undefined || !isGoodQuality(s.quality[i])) continue;
      const ts = s.start + i * dStep;
      if (localDate(ts, zone) !== d.localDate) continue;
      slots.set(slotKey(ts), v);
    }
    like.set(d.localDate, slots);
  }
  function slotKey(ts: number): number {
    return localMinuteOfDay(ts, zone) * 2 + localOccurrence(ts, zone);
  }
  function likeValue(slots: Map<number, number>, ts: number): number | undefined {
    const key = slotKey(ts);
    return slots.get(key) ?? (key % 2 === 1 ? slots.get(key - 1) : undefined);
  }
  /**
   * Like-day values for the given intervals: per local date, the first candidate day that has a
   * good value at every needed clock time; undefined for the intervals of dates without one.
   */
  function likeDayValues(indexes: readonly number[]): Array<number | undefined> {
    const out = new Array<number | undefined>(indexes.length).fill(undefined);
    if (like.size === 0) return out;
    const byDate = new Map<string, number[]>();
    indexes.forEach((i, k) => {
      const d = localDate(tsOf(i), zone);
      const list = byDate.get(d) ?? [];
      list.push(k);
      byDate.set(d, list);
    });
    for (const [date, ks] of byDate) {
      for (const cand of likeDayCandidates(date, holidays)) {
        const slots = like.get(cand);
        if (!slots) continue;
        const vs = ks.map((k) => likeValue(slots, tsOf(indexes[k]!)));
        if (vs.every((v) => v !== undefined)) {
          ks.forEach((k, j) => (out[k] = vs[j]));
          break;
        }
      }
    }
    return out;
  }

  // register reads usable for proration: on the grid, inside [start, end]
  const end = tsOf(n);
  const reads = (input.registerReads ?? [])
    .filter(
      (r) =>
        Number.isFinite(r.value) &&
        r.ts >= series.start &&
        r.ts <= end &&
        (r.ts - series.start) % step === 0,
    )
    .sort((a, b) => a.ts - b.ts);

  function prorate(a: number, b: number): boolean {
    let r0: RegisterRead | undefined;
    let r1: RegisterRead | undefined;
    for (const r of reads) {
      if (r.ts <= tsOf(a)) r0 = r;
      if (r.ts >= tsOf(b) && !r1) r1 = r;
    }
    if (!r0 || !r1) return false;
    const i0 = (r0.ts - series.start) / step;
    const i1 = (r1.ts - series.start) / step;
    const pool: number[] = [];
    let known = 0;
    for (let i = i0; i < i1; i++) {
      const v = values[i];
      if (v === null || v === undefined) pool.push(i);
      else known += v;
    }
    const remainder = r1.value - r0.value - known;
    if (remainder < -1e-9) return false; // inconsistent reads: the sum check reports it
    const liked = likeDayValues(pool);
    const shape = liked.every((v) => v !== undefined) ? (liked as number[]) : null;
    const weightSum = shape ? shape.reduce((s, w) => s + Math.max(0, w), 0) : 0;
    pool.forEach((i, k) => {
      const share = shape && weightSum > 0 ? Math.max(0, shape[k]!) / weightSum : 1 / pool.length;
      set(i, Math.max(0, remainder) * share, 'proration');
    });
    return true;
  }

  // 2.–5. gaps
  const gaps = runsWhere(n, (i) => isNull(i) && !outage[i]);
  const long: Array<[number, number]> = [];
  for (const [a, b] of gaps) {
    const left = good(a - 1);
    const right = good(b);
    if (b - a > maxInterp || (!left && !right)) {
      long.push([a, b]);
      continue;
    }
    if (left && right) {
      const lv = series.values[a - 1]!;
      const rv = series.values[b]!;
      const span = b - a + 1;
      for (let i = a; i < b; i++) set(i, lv + ((rv - lv) * (i - a + 1)) / span, 'linear');
    } else {
      const v = left ? series.values[a - 1]! : series.values[b]!;
      for (let i = a; i < b; i++) set(i, v, 'flat');
    }
  }
  for (const [a, b] of long) {
    // what an earlier proration span left of this gap
    for (const [c, d] of runsWhere(b - a, (k) => values[a + k] === null)) {
      if (prorate(a + c, a + d)) continue;
      const idx = range(a + c, a + d);
      const vs = likeDayValues(idx);
      idx.forEach((i, k) => {
        const v = vs[k];
        if (v !== undefined) set(i, v, 'like_day');
      });
    }
  }
  return { values, quality, method };
}
