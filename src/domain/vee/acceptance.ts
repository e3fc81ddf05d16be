/**
 * Scores VEE failures against the simulator's fault report: how many injected faults of each type
 * were caught (recall) and how many clean meter-days raised an exception anyway (false positives).
 * Pure; the caller runs the rules and tags each failure with its meter and channel.
 */
import type { Channel } from '../channel';
import { DAY_MS } from '../readings';
import type { FaultReport, FaultType } from '../simulate';
import type { RuleFailure, RuleId, Severity } from './types';

/** A rule failure with the meter and channel it was raised for. */
export interface LocatedFailure extends RuleFailure {
  meterSerial: string;
  channel: Channel;
}

/**
 * Which rules count as catching each fault type. Identical duplicates are no-ops (the same
 * value again), so no rule should catch them: for `duplicate`, `detected` counts the duplicates
 * that raised something anyway. Changed resends are the conflicting duplicates.
 */
export const DETECTING_RULES: Readonly<Record<FaultType, readonly RuleId[]>> = Object.freeze({
  gap: ['missing'],
  spike: ['spike'],
  zeroRun: ['zero_run'],
  duplicate: [],
  changedResend: ['conflicting_duplicate'],
  outage: ['missing'],
});

export interface FaultTypeScore {
  injected: number;
  /**
   * faults overlapped on their meter and channel by a failure of one of `rules` (an outage: on
   * every meter it hit); for `duplicate`, by any failure
   */
  detected: number;
  /** detected ÷ injected; null when nothing was injected or nothing is expected to detect it */
  recall: number | null;
  rules: RuleId[];
}

export interface FaultDetectionScore {
  byType: Record<FaultType, FaultTypeScore>;
  /** meters × days of the report; a meter-day is a meter and a 24-hour day of the report's grid */
  meterDays: number;
  /** meter-days touched by any fault other than an identical duplicate */
  faultyMeterDays: number;
  cleanMeterDays: number;
  /** clean meter-days with at least one failure */
  falsePositiveMeterDays: number;
  /** falsePositiveMeterDays ÷ cleanMeterDays */
  falsePositiveRate: number;
  /** per rule: clean meter-days it raised a failure on */
  falsePositivesByRule: Partial<Record<RuleId, number>>;
  /** failures scored (after the severity filter) */
  failures: number;
}

export interface ScoreOptions {
  /** overrides of DETECTING_RULES per fault type */
  detectingRules?: Partial<Record<FaultType, RuleId[]>>;
  /** only failures of these severities count (default: all) */
  severities?: readonly Severity[];
}

const overlaps = (f: RuleFailure, from: number, to: number): boolean => f.from < to && f.to > from;

export function scoreFaultDetection(
  report: FaultReport,
  failures: readonly LocatedFailure[],
  options: ScoreOptions = {},
): FaultDetectionScore {
  const step = report.intervalSeconds * 1000;
  const gridStart = Date.parse(report.start);
  if (!Number.isFinite(gridStart))
    throw new Error(`fault report start ${JSON.stringify(report.start)} is not an instant`);
  const gridEnd = gridStart + report.days * DAY_MS;
  const dayOf = (ms: number) => Math.floor((ms - gridStart) / DAY_MS);
  const rulesFor = (t: FaultType): RuleId[] => [
    ...(options.detectingRules?.[t] ?? DETECTING_RULES[t]),
  ];
  const severities = options.severities ? new Set(options.severities) : null;
  const counted = failures.filter((f) => !severities || severities.has(f.severity));

  const byMeterChannel = new Map<string, LocatedFailure[]>();
  const byMeter = new Map<string, LocatedFailure[]>();
  for (const f of counted) {
    const k = `${f.meterSerial}|${f.channel}`;
    (byMeterChannel.get(k) ?? byMeterChannel.set(k, []).get(k)!).push(f);
    (byMeter.get(f.meterSerial) ?? byMeter.set(f.meterSerial, []).get(f.meterSerial)!).push(f);
  }

  const byType = {} as Record<FaultType, FaultTypeScore>;
  for (const t of ['gap', 'spike', 'zeroRun', 'duplicate', 'changedResend', 'outage'] as const) {
    byType[t] = { injected: 0, detected: 0, recall: null, rules: rulesFor(t) };
  }
  const faulty = new Set<string>();
  const markDays = (serial: string, from: number, to: number) => {
    for (let d = dayOf(from); d <= dayOf(to - 1); d++) faulty.add(`${serial}|${d}`);
  };

  for (const fault of report.faults) {
    const starts = fault.intervalStarts.map((s) => Date.parse(s));
    if (!starts.length) continue;
    const from = Math.min(...starts);
    const to = Math.max(...starts) + step;
    const score = byType[fault.type];
    score.injected++;
    if (fault.type === 'outage') {
      const rules = new Set(score.rules);
      let all = fault.meterSerials.length > 0;
      for (const serial of fault.meterSerials) {
        markDays(serial, from, to);
        const hit = (byMeter.get(serial) ?? []).some(
          (f) => rules.has(f.rule) && overlaps(f, from, to),
        );
        if (!hit) all = false;
      }
      if (all) score.detected++;
      continue;
    }
    if (fault.type !== 'duplicate') markDays(fault.meterSerial, from, to);
    const rules = new Set(score.rules);
    const mine = byMeterChannel.get(`${fault.meterSerial}|${fault.channel}`) ?? [];
    const hit =
      fault.type === 'duplicate'
        ? mine.some((f) => overlaps(f, from, to))
        : mine.some((f) => rules.has(f.rule) && overlaps(f, from, to));
    if (hit) score.detected++;
  }
  for (const s of Object.values(byType)) {
    s.recall = s.injected > 0 && s.rules.length > 0 ? s.detected / s.injected : null;
  }

  const meterDays = report.meters * report.days;
  const fp = new Set<string>();
  const fpByRule = new Map<RuleId, Set<string>>();
  for (const f of counted) {
    const from = Math.max(f.from, gridStart);
    const to = Math.min(f.to, gridEnd);
    if (to <= from) continue;
    for (let d = dayOf(from); d <= dayOf(to - 1); d++) {
      const key = `${f.meterSerial}|${d}`;
      if (faulty.has(key)) continue;
      fp.add(key);
      (fpByRule.get(f.rule) ?? fpByRule.set(f.rule, new Set()).get(f.rule)!).add(key);
    }
  }
  const cleanMeterDays = meterDays - faulty.size;
  const falsePositivesByRule: Partial<Record<RuleId, number>> = {};
  for (const [rule, set] of fpByRule) falsePositivesByRule[rule] = set.size;
  return {
    byType,
    meterDays,
    faultyMeterDays: faulty.size,
    cleanMeterDays,
    falsePositiveMeterDays: fp.size,
    falsePositiveRate: cleanMeterDays > 0 ? fp.size / cleanMeterDays : 0,
    falsePositivesByRule,
    failures: counted.length,
  };
}
