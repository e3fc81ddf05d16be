/**
 * The vocabulary of VEE validation: rule ids and their flag bits, rule sets with typed
 * parameters, the input a rule run needs and the failures it returns. Everything here is plain
 * data (JSON-serialisable), so rule sets and failures can be stored and sent as they are.
 */
import type { Channel } from '../channel';
import type { PackedSeries, Series } from '../series';
import type { CustomerClass } from '../topology';

/**
 * Every validation rule, in flag-bit order. Bits are persisted (`reading_day.vee_flags`), so this
 * list is append-only: never reorder or remove an entry, only add new rules at the end.
 */
export const RULE_IDS = [
  'missing',
  'interval_alignment',
  'future',
  'pre_installation',
  'conflicting_duplicate',
  'negative',
  'zero_run',
  'high_low',
  'spike',
  'sum_check',
  'multiplier_unit',
  'consecutive_identical',
  'prolonged_estimation',
] as const;
export type RuleId = (typeof RULE_IDS)[number];

/** The bit of each rule in the per-interval flags bitmask (an int32: room for 31 rules). */
export const RULE_BIT: Readonly<Record<RuleId, number>> = Object.freeze(
  Object.fromEntries(RULE_IDS.map((id, i) => [id, 1 << i])) as Record<RuleId, number>,
);

export function isRuleId(s: string): s is RuleId {
  return (RULE_IDS as readonly string[]).includes(s);
}

/** The rules whose bits are set in a flags value, in RULE_IDS order. */
export function rulesOfFlags(flags: number): RuleId[] {
  return RULE_IDS.filter((id) => (flags & RULE_BIT[id]) !== 0);
}

export const SEVERITIES = ['info', 'warning', 'error'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Rule sets are kept per customer class (topology's vocabulary). */
export type MeterClass = CustomerClass;

// ---------------------------------------------------------------------------------------------
// Parameters, one interface per rule. Meanings, units, ranges, defaults and their sources are in
// RULE_SPECS (rule-sets.ts); the comments here only name the unit.

export interface MissingParams {
  /** report runs of at least this many missing intervals */
  minIntervals: number;
  /** intervals touched by a known outage are not missing (outage = zero usage) */
  excludeOutages: boolean;
  /** minutes: intervals ending within this long before `now` are not due yet */
  graceMinutes: number;
}
/** Rules without parameters. */
export type NoParams = Record<string, never>;
export type IntervalAlignmentParams = NoParams;
export interface FutureParams {
  /** seconds */
  toleranceSeconds: number;
}
export type PreInstallationParams = NoParams;
export interface ConflictingDuplicateParams {
  /** kWh */
  minDifferenceKwh: number;
}
export interface NegativeParams {
  /** kWh */
  toleranceKwh: number;
  checkReceived: boolean;
}
export interface ZeroRunParams {
  /** minutes */
  minMinutes: number;
  /** 0–1 */
  minExpectedShare: number;
  minHistoryDays: number;
  /** kWh per day */
  minDailyKwh: number;
  checkReceived: boolean;
}
export interface HighLowParams {
  minHistoryDays: number;
  highFactor: number;
  lowFactor: number;
  sigmas: number;
  /** kWh per day */
  minMeanDailyKwh: number;
  checkReceived: boolean;
}
export interface SpikeParams {
  /** percent */
  tolerancePercent: number;
  neighbourFactor: number;
  /** kW */
  minKw: number;
  /** percent */
  minCoveragePercent: number;
}
export interface SumCheckParams {
  /** percent */
  tolerancePercent: number;
  /** kWh */
  toleranceKwh: number;
}
export interface MultiplierUnitParams {
  /** kW */
  maxKw: number;
  ratio: number;
  minHistoryDays: number;
}
export interface ConsecutiveIdenticalParams {
  /** minutes */
  minMinutes: number;
}
export interface ProlongedEstimationParams {
  /** minutes */
  minConsecutiveMinutes: number;
  /** percent */
  maxWindowPercent: number;
}

export interface RuleParamsMap {
  missing: MissingParams;
  interval_alignment: IntervalAlignmentParams;
  future: FutureParams;
  pre_installation: PreInstallationParams;
  conflicting_duplicate: ConflictingDuplicateParams;
  negative: NegativeParams;
  zero_run: ZeroRunParams;
  high_low: HighLowParams;
  spike: SpikeParams;
  sum_check: SumCheckParams;
  multiplier_unit: MultiplierUnitParams;
  consecutive_identical: ConsecutiveIdenticalParams;
  prolonged_estimation: ProlongedEstimationParams;
}

export interface RuleConfig<K extends RuleId = RuleId> {
  enabled: boolean;
  /** the severity failures of this rule are reported with */
  severity: Severity;
  params: RuleParamsMap[K];
}

export type RuleConfigs = { [K in RuleId]: RuleConfig<K> };

export interface RuleSet {
  name: string;
  meterClass: MeterClass;
  /** bumped by whoever stores rule sets whenever a rule set changes; ≥ 1 */
  version: number;
  rules: RuleConfigs;
}

// ---------------------------------------------------------------------------------------------
// Input and output of a rule run

export interface MeterInfo {
  serial: string;
  /** the meter's interval length; the series must be on this grid */
  intervalSeconds: number;
  /** epoch ms */
  installedAt: number;
  /** epoch ms, or null while installed */
  removedAt: number | null;
  /** CT/PT multiplier recorded for the meter (values are already multiplied, in kWh) */
  multiplier: number;
  channel: Channel;
  /** IANA zone of the service point; per-day rules use its local days */
  timeZone: string;
}

/** A span of time, epoch ms, [from, to). */
export interface TimeSpan {
  from: number;
  to: number;
}

/** A cumulative register read, kWh on the same (multiplied) basis as the interval values. */
export interface RegisterRead {
  /** epoch ms of the read; reads are compared with intervals starting at or after it */
  ts: number;
  value: number;
}

export interface VeeHistory {
  /**
   * Totals (kWh) of previous, validated, complete local days, any order. When absent they are
   * derived from `intervals` (its complete local days).
   */
  dailyTotals?: number[];
  /**
   * Validated intervals before the window (e.g. the last 28 days), on any interval grid: used
   * to learn at which local times of day the meter normally records usage.
   */
  intervals?: Series | PackedSeries;
}

export interface VeeInput {
  meter: MeterInfo;
  /**
   * The window under validation on the meter's grid, [start, start + n·step); a null value is a
   * missing interval (NaN in a PackedSeries, which is used as it is; a Series is packed first).
   * Pass whole local days: the per-day rules look at the meter's local days.
   */
  series: Series | PackedSeries;
  /** raw arrival grid of the readings in this batch, for the size/alignment rule */
  received?: Array<{ ts: number; intervalSeconds: number }>;
  /** intervals received more than once with different values (in this batch or vs stored) */
  conflicts?: Array<{ ts: number; values: number[] }>;
  history?: VeeHistory;
  registerReads?: RegisterRead[];
  /** known supply outages (from last-gasp / restore events) */
  outages?: TimeSpan[];
  /** epoch ms: the time of the run (the caller's clock; nothing here reads one) */
  now: number;
}

export interface RuleFailure {
  rule: RuleId;
  severity: Severity;
  /** epoch ms, [from, to) */
  from: number;
  to: number;
  /** indexes into series.values; empty when the failure lies outside the window */
  intervals: number[];
  /** one line for an operator: what was found, with the numbers that matter */
  detail: string;
  data?: Record<string, number>;
}

export interface SkippedRule {
  rule: RuleId;
  /** why the rule could not look at (part of) the window, e.g. missing history */
  reason: string;
}

export interface VeeResult {
  /** sorted by `from`, then by rule order */
  failures: RuleFailure[];
  /** per interval of the series: OR of RULE_BIT of every failure covering it */
  flags: Int32Array;
  /** enabled rules that could not run (fully or partly) for lack of input */
  skipped: SkippedRule[];
}
