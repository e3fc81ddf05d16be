/** Builders for VEE table tests: New York meters on a 15-minute grid, local days by date. */
import { DateTime } from 'luxon';
import type { Series } from '../../../src/domain/series';
import {
  DEFAULT_RULE_SETS,
  RULE_IDS,
  cloneRuleSet,
  type MeterInfo,
  type RuleId,
  type RuleParamsMap,
  type RuleSet,
  type VeeInput,
} from '../../../src/domain/vee';

export const NY = 'America/New_York';
export const STEP = 900_000;

/** Epoch ms of local midnight of a New York date. */
export function midnight(date: string, zone = NY): number {
  return DateTime.fromISO(date, { zone }).startOf('day').toMillis();
}

/** Epoch ms of a local New York wall-clock time, e.g. `at('2026-03-04T03:00')`. */
export function at(local: string, zone = NY): number {
  return DateTime.fromISO(local, { zone }).toMillis();
}

/** Number of 15-minute intervals in a local day (92, 96 or 100 in New York). */
export function intervalsIn(date: string, zone = NY): number {
  const start = midnight(date, zone);
  const end = DateTime.fromISO(date, { zone }).plus({ days: 1 }).startOf('day').toMillis();
  return (end - start) / STEP;
}

export function series(
  start: number,
  values: Array<number | null>,
  quality?: Array<number | null>,
): Series {
  return {
    start,
    intervalSeconds: 900,
    values,
    quality: quality ?? values.map((v) => (v === null ? null : 0)),
  };
}

/** A whole local day of `fill`, with `set` overriding single intervals (by index). */
export function daySeries(
  date: string,
  fill: number | null,
  set: Record<number, number | null> = {},
  zone = NY,
): Series {
  const values = new Array<number | null>(intervalsIn(date, zone)).fill(fill);
  for (const [i, v] of Object.entries(set)) values[Number(i)] = v;
  return series(midnight(date, zone), values);
}

export function meter(over: Partial<MeterInfo> = {}): MeterInfo {
  return {
    serial: 'M1',
    intervalSeconds: 900,
    installedAt: Date.UTC(2020, 0, 1),
    removedAt: null,
    multiplier: 1,
    channel: 'delivered',
    timeZone: NY,
    ...over,
  };
}

export function input(s: Series, over: Partial<VeeInput> = {}): VeeInput {
  return {
    meter: meter(),
    series: s,
    now: s.start + s.values.length * STEP + 86_400_000,
    ...over,
  };
}

/** The default residential rule set with only `rule` enabled (and its params overridden). */
export function only<K extends RuleId>(rule: K, params: Partial<RuleParamsMap[K]> = {}): RuleSet {
  const rs = cloneRuleSet(DEFAULT_RULE_SETS.RESIDENTIAL);
  for (const id of RULE_IDS) rs.rules[id].enabled = id === rule;
  Object.assign(rs.rules[rule].params, params);
  return rs;
}

export function indexes(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, k) => from + k);
}

/** The `code` of the error `fn` throws (undefined when it throws none, or one without a code). */
export function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}
