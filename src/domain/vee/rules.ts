/**
 * Runs a rule set over one meter-channel window and returns the failures, a per-interval flag
 * bitmask and the rules that lacked input. Pure: time comes in as `now`, history and register
 * reads come in with the input.
 */
import { type IANAZone } from 'luxon';
import { ErrorCode, MeterdataError } from '../../errors';
import { isSubstitute } from '../channel';
import { sameValue } from '../readings';
import { packSeries, type PackedSeries } from '../series';
import { localDays, localIso, localMinuteOfDay, zoneOf, type LocalDaySlice } from './calendar';
import { mean, quantileSorted, range, round, runsWhere, runsWhereIn, sampleSd } from './stats';
import {
  RULE_BIT,
  RULE_IDS,
  type ConflictingDuplicateParams,
  type ConsecutiveIdenticalParams,
  type FutureParams,
  type HighLowParams,
  type MissingParams,
  type MultiplierUnitParams,
  type NegativeParams,
  type ProlongedEstimationParams,
  type RuleFailure,
  type RuleId,
  type RuleParamsMap,
  type RuleSet,
  type SkippedRule,
  type SpikeParams,
  type SumCheckParams,
  type VeeInput,
  type VeeResult,
  type ZeroRunParams,
} from './types';

const MINUTE_MS = 60_000;

/** A failure before the rule's id and configured severity are attached. */
type Found = Omit<RuleFailure, 'rule' | 'severity'>;

interface HistoryView {
  dailyTotals: number[];
  /** local days with interval history (0 without intervals) */
  intervalDays: number;
  /** interval-history usage by local time of day: [days with a value, days with usage > 0] */
  slotStats: ((minuteOfDay: number) => [number, number] | undefined) | null;
}

interface Ctx {
  input: VeeInput;
  n: number;
  start: number;
  /** ms */
  step: number;
  /** interval length in hours (kWh ÷ hours = average kW) */
  hours: number;
  /** NaN where the interval has no value (see PackedSeries) */
  values: Float64Array;
  /** MISSING_QUALITY where the interval has no quality code */
  quality: Uint8Array;
  zone: IANAZone;
  days: readonly LocalDaySlice[];
  /** 1 where the interval overlaps a known outage */
  outage: Uint8Array;
  history: () => HistoryView;
  skip: (reason: string) => void;
  /** what one pass over the window found: rules skip their scans when it rules them out */
  facts: WindowFacts;
}

interface WindowFacts {
  /** intervals without a value */
  missing: number;
  /** intervals whose value is exactly 0 */
  zeros: number;
  /** lowest value (Infinity without values) */
  min: number;
  /** highest value (-Infinity without values) */
  max: number;
  /** intervals whose quality is a substitute (estimated, edited…) */
  substitutes: number;
}

function windowFacts(values: Float64Array, quality: Uint8Array): WindowFacts {
  let missing = 0;
  let zeros = 0;
  let min = Infinity;
  let max = -Infinity;
  let substitutes = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v !== v) missing++;
    else {
      if (v === 0) zeros++;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (isSubstitute(quality[i]!)) substitutes++;
  }
  return { missing, zeros, min, max, substitutes };
}

type RuleFn<K extends RuleId> = (ctx: Ctx, params: RuleParamsMap[K]) => Found[];

const tsOf = (ctx: Ctx, i: number): number => ctx.start + i * ctx.step;
/** A value is present unless NaN (no value) or past the window's end (undefined). */
const present = (v: number | undefined): v is number => v !== undefined && v === v;

function local(ctx: Ctx, ms: number): string {
  return localIso(ms, ctx.zone);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Window indexes of the intervals overlapping [from, to). */
function indexesOverlapping(ctx: Ctx, from: number, to: number): number[] {
  const a = Math.max(0, Math.floor((from - ctx.start) / ctx.step));
  const b = Math.min(ctx.n, Math.ceil((to - ctx.start) / ctx.step));
  return range(a, b);
}

function runFound(
  ctx: Ctx,
  [a, b]: [number, number],
  detail: string,
  data?: Record<string, number>,
): Found {
  const f: Found = { from: tsOf(ctx, a), to: tsOf(ctx, b), intervals: range(a, b), detail };
  if (data) f.data = data;
  return f;
}

function installed(ctx: Ctx, i: number): boolean {
  const t = tsOf(ctx, i);
  const m = ctx.input.meter;
  return t >= m.installedAt && (m.removedAt === null || t < m.removedAt);
}

function minutesOf(ctx: Ctx, intervals: number): number {
  return (intervals * ctx.step) / MINUTE_MS;
}

// ---------------------------------------------------------------------------------------------
// Rules

/** What `missing` asks of an interval: missing, due, installed, and (if asked) outside outages. */
interface MissingTest {
  ctx: Ctx;
  dueEnd: number;
  excludeOutages: boolean;
}

function missingAt(t: MissingTest, i: number): boolean {
  const ctx = t.ctx;
  const v = ctx.values[i];
  return (
    v !== v &&
    installed(ctx, i) &&
    tsOf(ctx, i) + ctx.step <= t.dueEnd &&
    !(t.excludeOutages && ctx.outage[i])
  );
}

const missing: RuleFn<'missing'> = (ctx, p: MissingParams) => {
  if (ctx.facts.missing === 0) return [];
  const runs = runsWhereIn(
    ctx.n,
    {
      ctx,
      dueEnd: ctx.input.now - p.graceMinutes * MINUTE_MS,
      excludeOutages: p.excludeOutages,
    },
    missingAt,
  );
  return runs
    .filter(([a, b]) => b - a >= p.minIntervals)
    .map((r) => {
      const count = r[1] - r[0];
      return runFound(
        ctx,
        r,
        `${plural(count, 'missing interval')} (${minutesOf(ctx, count)} min) from ` +
          `${local(ctx, tsOf(ctx, r[0]))} to ${local(ctx, tsOf(ctx, r[1]))}`,
        { count },
      );
    });
};

const intervalAlignment: RuleFn<'interval_alignment'> = (ctx) => {
  const received = ctx.input.received;
  if (!received) {
    ctx.skip('no arrival grid given (input.received)');
    return [];
  }
  const meterSeconds = ctx.input.meter.intervalSeconds;
  interface Bad {
    ts: number;
    seconds: number;
    kind: 'size' | 'alignment';
    offset: number;
  }
  const bad: Bad[] = [];
  for (const r of received.slice().sort((x, y) => x.ts - y.ts)) {
    if (!Number.isFinite(r.ts) || !Number.isFinite(r.intervalSeconds)) continue;
    const offset = ((r.ts % ctx.step) + ctx.step) % ctx.step;
    if (r.intervalSeconds !== meterSeconds)
      bad.push({ ts: r.ts, seconds: r.intervalSeconds, kind: 'size', offset });
    else if (offset !== 0)
      bad.push({ ts: r.ts, seconds: r.intervalSeconds, kind: 'alignment', offset });
  }
  const out: Found[] = [];
  let g: Bad[] = [];
  const flush = () => {
    if (!g.length) return;
    const first = g[0]!;
    const last = g[g.length - 1]!;
    const from = first.ts;
    const to = last.ts + Math.max(last.seconds, 1) * 1000;
    const detail =
      first.kind === 'size'
        ? `${plural(g.length, 'reading')} of ${first.seconds} s from ${local(ctx, from)}, but meter ` +
          `${ctx.input.meter.serial} records ${meterSeconds} s intervals`
        : `${plural(g.length, 'reading')} from ${local(ctx, from)} start ${first.offset / 1000} s after ` +
          `a ${meterSeconds} s boundary`;
    out.push({
      from,
      to,
      intervals: indexesOverlapping(ctx, from, to),
      detail,
      data:
        first.kind === 'size'
          ? { count: g.length, intervalSeconds: first.seconds }
          : { count: g.length, offsetSeconds: first.offset / 1000 },
    });
    g = [];
  };
  for (const b of bad) {
    const prev = g[g.length - 1];
    const joins =
      prev &&
      prev.kind === b.kind &&
      prev.seconds === b.seconds &&
      (b.kind === 'size' || prev.offset === b.offset) &&
      b.ts - prev.ts <= Math.max(prev.seconds * 1000, ctx.step);
    if (!joins) flush();
    g.push(b);
  }
  flush();
  return out;
};

const future: RuleFn<'future'> = (ctx, p: FutureParams) => {
  const limit = ctx.input.now + p.toleranceSeconds * 1000;
  if (tsOf(ctx, ctx.n) <= limit) return []; // every interval ends by then
  return runsWhere(ctx.n, (i) => present(ctx.values[i]) && tsOf(ctx, i) + ctx.step > limit).map(
    (r) =>
      runFound(
        ctx,
        r,
        `${plural(r[1] - r[0], 'interval')} from ${local(ctx, tsOf(ctx, r[0]))} end after now ` +
          `(${local(ctx, ctx.input.now)}) plus the ${p.toleranceSeconds} s clock tolerance`,
        { count: r[1] - r[0] },
      ),
  );
};

const preInstallation: RuleFn<'pre_installation'> = (ctx) => {
  const m = ctx.input.meter;
  const inside =
    ctx.start >= m.installedAt && (m.removedAt === null || tsOf(ctx, ctx.n) <= m.removedAt);
  if (inside) return [];
  const before = runsWhere(
    ctx.n,
    (i) => present(ctx.values[i]) && tsOf(ctx, i) < m.installedAt,
  ).map((r) =>
    runFound(
      ctx,
      r,
      `${plural(r[1] - r[0], 'interval')} from ${local(ctx, tsOf(ctx, r[0]))} before meter ` +
        `${m.serial} was installed (${local(ctx, m.installedAt)})`,
      { count: r[1] - r[0] },
    ),
  );
  const removedAt = m.removedAt;
  const after =
    removedAt === null
      ? []
      : runsWhere(ctx.n, (i) => present(ctx.values[i]) && tsOf(ctx, i) >= removedAt).map((r) =>
          runFound(
            ctx,
            r,
            `${plural(r[1] - r[0], 'interval')} from ${local(ctx, tsOf(ctx, r[0]))} after meter ` +
              `${m.serial} was removed (${local(ctx, removedAt)})`,
            { count: r[1] - r[0] },
          ),
        );
  return [...before, ...after];
};

const conflictingDuplicate: RuleFn<'conflicting_duplicate'> = (
  ctx,
  p: ConflictingDuplicateParams,
) => {
  const diff = new Map<number, number>();
  for (const c of ctx.input.conflicts ?? []) {
    const i = (c.ts - ctx.start) / ctx.step;
    if (!Number.isInteger(i) || i < 0 || i >= ctx.n) continue;
    const vs = c.values.filter((v) => Number.isFinite(v));
    if (vs.length < 2) continue;
    const lo = Math.min(...vs);
    const hi = Math.max(...vs);
    if (hi - lo > p.minDifferenceKwh && !sameValue(lo, hi))
      diff.set(i, Math.max(diff.get(i) ?? 0, hi - lo));
  }
  if (!diff.size) return [];
  return runsWhere(ctx.n, (i) => diff.has(i)).map((r) => {
    let max = 0;
    for (let i = r[0]; i < r[1]; i++) max = Math.max(max, diff.get(i)!);
    return runFound(
      ctx,
      r,
      `${plural(r[1] - r[0], 'interval')} from ${local(ctx, tsOf(ctx, r[0]))} received again with a ` +
        `different value (up to ${round(max)} kWh apart)`,
      { count: r[1] - r[0], maxDifferenceKwh: round(max, 6) },
    );
  });
};

const negative: RuleFn<'negative'> = (ctx, p: NegativeParams) => {
  const out: Found[] = [];
  const channel = ctx.input.meter.channel;
  if ((channel === 'delivered' || p.checkReceived) && ctx.facts.min < -p.toleranceKwh) {
    for (const r of runsWhere(ctx.n, (i) => {
      const v = ctx.values[i];
      return present(v) && v < -p.toleranceKwh;
    })) {
      let min = 0;
      for (let i = r[0]; i < r[1]; i++) min = Math.min(min, ctx.values[i]!);
      out.push(
        runFound(
          ctx,
          r,
          `${plural(r[1] - r[0], 'negative value')} on the ${channel} channel from ` +
            `${local(ctx, tsOf(ctx, r[0]))} (lowest ${round(min)} kWh)`,
          { count: r[1] - r[0], minKwh: min },
        ),
      );
    }
  }
  const reads = (ctx.input.registerReads ?? [])
    .filter((r) => Number.isFinite(r.ts) && Number.isFinite(r.value))
    .sort((a, b) => a.ts - b.ts);
  const end = tsOf(ctx, ctx.n);
  for (let k = 1; k < reads.length; k++) {
    const a = reads[k - 1]!;
    const b = reads[k]!;
    if (a.ts > end || b.ts < ctx.start) continue;
    if (b.value < a.value - p.toleranceKwh) {
      out.push({
        from: a.ts,
        to: b.ts,
        intervals: indexesOverlapping(ctx, a.ts, b.ts),
        detail:
          `register went backwards from ${round(a.value)} kWh (${local(ctx, a.ts)}) to ` +
          `${round(b.value)} kWh (${local(ctx, b.ts)})`,
        data: { fromKwh: a.value, toKwh: b.value },
      });
    }
  }
  return out;
};

/** A zero value that is neither in an outage nor a substitute. */
function zeroAt(ctx: Ctx, i: number): boolean {
  return ctx.values[i] === 0 && !ctx.outage[i] && !isSubstitute(ctx.quality[i]!);
}

const zeroRun: RuleFn<'zero_run'> = (ctx, p: ZeroRunParams) => {
  if (ctx.input.meter.channel === 'received' && !p.checkReceived) return [];
  if (ctx.facts.zeros === 0) return [];
  const runs = runsWhereIn(ctx.n, ctx, zeroAt).filter(
    ([a, b]) => minutesOf(ctx, b - a) >= p.minMinutes,
  );
  if (!runs.length) return [];
  const h = ctx.history();
  const out: Found[] = [];
  if (h.slotStats && h.intervalDays >= p.minHistoryDays) {
    for (const r of runs) {
      let days = 0;
      let used = 0;
      for (let i = r[0]; i < r[1]; i++) {
        const s = h.slotStats(localMinuteOfDay(tsOf(ctx, i), ctx.zone));
        if (!s) continue;
        days += s[0];
        used += s[1];
      }
      if (days === 0) continue;
      const share = used / days;
      if (share >= p.minExpectedShare) {
        const count = r[1] - r[0];
        out.push(
          runFound(
            ctx,
            r,
            `${plural(count, 'zero interval')} (${minutesOf(ctx, count)} min) from ` +
              `${local(ctx, tsOf(ctx, r[0]))}; at these times of day the meter recorded usage on ` +
              `${round(share * 100, 1)} % of its history days`,
            { count, expectedShare: round(share, 4) },
          ),
        );
      }
    }
    return out;
  }
  if (h.dailyTotals.length >= p.minHistoryDays) {
    const avg = mean(h.dailyTotals);
    if (avg < p.minDailyKwh) return [];
    for (const r of runs) {
      const count = r[1] - r[0];
      out.push(
        runFound(
          ctx,
          r,
          `${plural(count, 'zero interval')} (${minutesOf(ctx, count)} min) from ` +
            `${local(ctx, tsOf(ctx, r[0]))}; the meter's history averages ${round(avg, 2)} kWh/day`,
          { count, historyMeanDailyKwh: round(avg) },
        ),
      );
    }
    return out;
  }
  ctx.skip(`zero runs found but fewer than ${p.minHistoryDays} history days to judge them`);
  return out;
};

interface DaySum {
  day: LocalDaySlice;
  sum: number;
  count: number;
  complete: boolean;
}

function daySums(ctx: Ctx): DaySum[] {
  return ctx.days.map((day) => {
    let sum = 0;
    let count = 0;
    for (let i = day.first; i < day.last; i++) {
      const v = ctx.values[i];
      if (present(v)) {
        sum += v;
        count++;
      }
    }
    return { day, sum, count, complete: count === day.fullCount };
  });
}

function dayFound(ctx: Ctx, d: DaySum, detail: string, data: Record<string, number>): Found {
  return {
    from: Math.max(d.day.dayStart, ctx.start),
    to: Math.min(d.day.dayEnd, tsOf(ctx, ctx.n)),
    intervals: range(d.day.first, d.day.last),
    detail,
    data,
  };
}

const highLow: RuleFn<'high_low'> = (ctx, p: HighLowParams) => {
  if (ctx.input.meter.channel === 'received' && !p.checkReceived) return [];
  const totals = ctx.history().dailyTotals;
  if (totals.length < p.minHistoryDays) {
    ctx.skip(`${totals.length} history days, ${p.minHistoryDays} needed`);
    return [];
  }
  const mu = mean(totals);
  if (mu < p.minMeanDailyKwh) return [];
  const sd = sampleSd(totals);
  const high = Math.max(p.highFactor * mu, mu + p.sigmas * sd);
  const low = Math.min(p.lowFactor * mu, mu - p.sigmas * sd);
  const out: Found[] = [];
  for (const d of daySums(ctx)) {
    if (d.count === 0) continue;
    const data = {
      totalKwh: round(d.sum),
      historyMeanKwh: round(mu),
      historySdKwh: round(sd),
      highLimitKwh: round(high),
      lowLimitKwh: round(low),
    };
    if (d.sum > high) {
      out.push(
        dayFound(
          ctx,
          d,
          `${d.day.date}: ${d.complete ? '' : 'at least '}${round(d.sum, 2)} kWh, above the high limit ` +
            `${round(high, 2)} kWh (history ${round(mu, 2)} ± ${round(sd, 2)} kWh/day)`,
          data,
        ),
      );
    } else if (d.complete && d.sum < low) {
      out.push(
        dayFound(
          ctx,
          d,
          `${d.day.date}: ${round(d.sum, 2)} kWh, below the low limit ${round(low, 2)} kWh ` +
            `(history ${round(mu, 2)} ± ${round(sd, 2)} kWh/day)`,
          data,
        ),
      );
    }
  }
  return out;
};

const spike: RuleFn<'spike'> = (ctx, p: SpikeParams) => {
  const out: Found[] = [];
  const q: DayQuartile = { first: -1, q75: NaN };
  // No neighbour test without a positive factor (Infinity × a neighbour is never exceeded).
  const factor = p.neighbourFactor > 0 ? p.neighbourFactor : Infinity;
  const minKwh = p.minKw * ctx.hours;
  const values = ctx.values;
  const n = ctx.n;
  for (const day of ctx.days) {
    // One pass for the count and the three highest values (as a multiset, like a sort).
    let count = 0;
    let highest = -Infinity;
    let second = -Infinity;
    let third = -Infinity;
    for (let i = day.first; i < day.last; i++) {
      const v = values[i];
      if (!present(v)) continue;
      count++;
      if (v > highest) {
        third = second;
        second = highest;
        highest = v;
      } else if (v > second) {
        third = second;
        second = v;
      } else if (v > third) third = v;
    }
    if (count < 3 || count < (p.minCoveragePercent / 100) * day.fullCount) continue;
    const oracleLimit = Math.max(0, third) * (1 + p.tolerancePercent / 100);
    const percent = third > 0 ? ((highest - third) / third) * 100 : Infinity;
    const oracleDay = percent > p.tolerancePercent;
    for (let i = day.first; i < day.last; i++) {
      const v = values[i];
      if (!present(v)) continue;
      if (v <= 0 || v < minKwh) continue;
      // (Comparisons first: every one runs on every value, so the compiled scan has seen them
      // all and does not deoptimise on the first day that needs one.)
      const oracle = v > oracleLimit && oracleDay;
      // (a missing neighbour counts as 0)
      const prev = i > 0 ? values[i - 1]! : NaN;
      const next = i + 1 < n ? values[i + 1]! : NaN;
      const neighbours = Math.max(prev === prev ? prev : 0, next === next ? next : 0);
      // The reference is at least the neighbours: a value not above them times the factor is
      // not isolated whatever the quartile.
      const candidate = v > factor * neighbours;
      if (!oracle && !candidate) continue;
      spikeAt(ctx, p, day, i, { neighbours, third, percent, oracle, candidate }, q, out);
    }
  }
  return out;
};

/** The upper quartile of one day's non-zero values, worked out once for the day. */
interface DayQuartile {
  first: number;
  q75: number;
}

/**
 * Judges a value of the scan that may be a spike: against the day's upper quartile (worked out
 * for the day's first such value; most days have none, and never sort), and adds it to `out`
 * if it is one. Apart from the scan, like upperQuartileOf and spikeFound: what the scan seldom
 * reaches made it deoptimise and be compiled again, up to eight times in an ingest of the
 * bench CSV.
 */
function spikeAt(
  ctx: Ctx,
  p: SpikeParams,
  day: LocalDaySlice,
  i: number,
  s: { neighbours: number; third: number; percent: number; oracle: boolean; candidate: boolean },
  q: DayQuartile,
  out: Found[],
): void {
  const v = ctx.values[i]!;
  if (q.first !== day.first) {
    q.first = day.first;
    q.q75 = upperQuartileOf(ctx.values, day.first, day.last);
  }
  const ref = Math.max(s.neighbours, q.q75);
  const isolated = s.candidate && ref > 0 && v > p.neighbourFactor * ref;
  if (!s.oracle && !isolated) return;
  out.push(
    spikeFound(ctx, p, i, {
      v,
      ref,
      third: s.third,
      percent: s.percent,
      oracle: s.oracle,
      isolated,
    }),
  );
}

/**
 * Upper quartile of a day's non-zero values: zeros (PV netting, intermittent export) say
 * nothing about the level a spike stands out from.
 */
function upperQuartileOf(values: Float64Array, first: number, last: number): number {
  let n = 0;
  for (let i = first; i < last; i++) {
    const v = values[i]!;
    if (v === v && v > 0) n++;
  }
  if (n === 0) return 0;
  const positive = new Float64Array(n);
  n = 0;
  for (let i = first; i < last; i++) {
    const v = values[i]!;
    if (v === v && v > 0) positive[n++] = v;
  }
  positive.sort();
  return quantileSorted(positive, 0.75);
}

/** A spike's failure, with the numbers that made it one. */
function spikeFound(
  ctx: Ctx,
  p: SpikeParams,
  i: number,
  s: { v: number; ref: number; third: number; percent: number; oracle: boolean; isolated: boolean },
): Found {
  const why: string[] = [];
  if (s.oracle) {
    why.push(
      `${round(s.percent, 1)} % above the day's third-highest interval (${round(s.third)} kWh; ` +
        `tolerance ${p.tolerancePercent} %)`,
    );
  }
  if (s.isolated)
    why.push(
      `${round(s.v / s.ref, 1)}× its neighbours and the day's upper quartile of non-zero values`,
    );
  const data: Record<string, number> = {
    valueKwh: s.v,
    thirdHighestKwh: s.third,
    neighbourRefKwh: round(s.ref, 6),
  };
  if (Number.isFinite(s.percent)) data.percentDifference = round(s.percent, 2);
  return {
    from: tsOf(ctx, i),
    to: tsOf(ctx, i + 1),
    intervals: [i],
    detail: `spike of ${round(s.v)} kWh at ${local(ctx, tsOf(ctx, i))}: ${why.join('; ')}`,
    data,
  };
}

const sumCheck: RuleFn<'sum_check'> = (ctx, p: SumCheckParams) => {
  const end = tsOf(ctx, ctx.n);
  const reads = (ctx.input.registerReads ?? [])
    .filter(
      (r) =>
        Number.isFinite(r.value) &&
        r.ts >= ctx.start &&
        r.ts <= end &&
        (r.ts - ctx.start) % ctx.step === 0,
    )
    .sort((a, b) => a.ts - b.ts);
  if (reads.length < 2) {
    ctx.skip('fewer than two register reads on interval boundaries inside the window');
    return [];
  }
  const out: Found[] = [];
  for (let k = 1; k < reads.length; k++) {
    const r0 = reads[k - 1]!;
    const r1 = reads[k]!;
    const registerDiff = r1.value - r0.value;
    if (r1.ts === r0.ts || registerDiff < 0) continue; // backwards: the negative rule's case
    const a = (r0.ts - ctx.start) / ctx.step;
    const b = (r1.ts - ctx.start) / ctx.step;
    let sum = 0;
    let complete = true;
    for (let i = a; i < b; i++) {
      const v = ctx.values[i];
      if (!present(v)) {
        complete = false;
        break;
      }
      sum += v;
    }
    if (!complete) continue; // the missing rule reports the gap
    const difference = sum - registerDiff;
    const allowed = Math.max(p.toleranceKwh, (p.tolerancePercent / 100) * registerDiff);
    if (Math.abs(difference) > allowed) {
      out.push({
        from: r0.ts,
        to: r1.ts,
        intervals: range(a, b),
        detail:
          `intervals from ${local(ctx, r0.ts)} to ${local(ctx, r1.ts)} sum to ${round(sum, 3)} kWh, ` +
          `the register advanced ${round(registerDiff, 3)} kWh (allowed ±${round(allowed, 3)} kWh)`,
        data: {
          intervalSumKwh: round(sum, 6),
          registerDifferenceKwh: round(registerDiff, 6),
          differenceKwh: round(difference, 6),
        },
      });
    }
  }
  return out;
};

function scaleGuess(ratio: number, multiplier: number): string {
  const near = (x: number, target: number) => x >= target * 0.75 && x <= target * 1.33;
  const up = ratio >= 1;
  const r = up ? ratio : 1 / ratio;
  if (near(r, 1000))
    return up ? 'values look like Wh reported as kWh' : 'values look like kWh reported as Wh';
  if (multiplier > 1 && near(r, multiplier)) {
    return up
      ? `the multiplier ×${multiplier} looks applied twice`
      : `the multiplier ×${multiplier} looks not applied`;
  }
  return `values are ×${round(ratio, r >= 10 ? 0 : 3)} the usual scale`;
}

const multiplierUnit: RuleFn<'multiplier_unit'> = (ctx, p: MultiplierUnitParams) => {
  const out: Found[] = [];
  const maxKwh = p.maxKw * ctx.hours;
  const above =
    ctx.facts.max > maxKwh
      ? runsWhere(ctx.n, (i) => {
          const v = ctx.values[i];
          return present(v) && v > maxKwh;
        })
      : [];
  for (const r of above) {
    let max = 0;
    for (let i = r[0]; i < r[1]; i++) max = Math.max(max, ctx.values[i]!);
    out.push(
      runFound(
        ctx,
        r,
        `${plural(r[1] - r[0], 'interval')} from ${local(ctx, tsOf(ctx, r[0]))} above what the service ` +
          `can deliver: up to ${round(max / ctx.hours, 1)} kW average, limit ${p.maxKw} kW`,
        { count: r[1] - r[0], maxKw: round(max / ctx.hours, 3), limitKw: p.maxKw },
      ),
    );
  }
  const totals = ctx.history().dailyTotals;
  if (totals.length < p.minHistoryDays) {
    ctx.skip(`scale test: ${totals.length} history days, ${p.minHistoryDays} needed`);
    return out;
  }
  // Export swings with sunshine and season far more than usage does: on the received channel
  // the reference is the history's best day, and only the high direction is tested.
  const delivered = ctx.input.meter.channel === 'delivered';
  const ref = delivered ? mean(totals) : Math.max(...totals);
  if (!(ref > 0)) return out;
  const refText = delivered
    ? `average of ${round(ref, 2)} kWh/day`
    : `highest day, ${round(ref, 2)} kWh`;
  const multiplier = ctx.input.meter.multiplier;
  for (const d of daySums(ctx)) {
    if (d.count === 0) continue;
    const ratio = d.sum / ref;
    const high = ratio >= p.ratio;
    const low = d.complete && delivered && ratio <= 1 / p.ratio;
    if (!high && !low) continue;
    out.push(
      dayFound(
        ctx,
        d,
        `${d.day.date}: ${round(d.sum, 2)} kWh is ×${round(ratio, ratio >= 10 ? 0 : 3)} the history ` +
          `${refText}: ${scaleGuess(ratio, multiplier)}`,
        { totalKwh: round(d.sum), historyRefKwh: round(ref), ratio: round(ratio, 4) },
      ),
    );
  }
  return out;
};

const consecutiveIdentical: RuleFn<'consecutive_identical'> = (
  ctx,
  p: ConsecutiveIdenticalParams,
) => {
  const out: Found[] = [];
  const values = ctx.values;
  const quality = ctx.quality;
  const n = ctx.n;
  // A run is of present, non-zero, not substituted values that are the same reading: the float4
  // comparison of sameValue, with the run's value rounded once. One pass, each run reported
  // when the next value breaks it.
  const anySubstitute = ctx.facts.substitutes > 0;
  // (a run of one interval is checked only when one interval is long enough to fail)
  const oneFails = minutesOf(ctx, 1) >= p.minMinutes;
  let runStart = -1;
  let runValue = NaN;
  for (let i = 0; i <= n; i++) {
    let f = NaN;
    if (i < n) {
      const v = values[i]!;
      if (v === v && v !== 0 && !(anySubstitute && isSubstitute(quality[i]!))) f = Math.fround(v);
    }
    if (runStart >= 0 && f === runValue) continue;
    if (runStart >= 0 && (i - runStart > 1 || oneFails)) {
      const count = i - runStart;
      if (minutesOf(ctx, count) >= p.minMinutes) {
        out.push(
          runFound(
            ctx,
            [runStart, i],
            `${values[runStart]} kWh held for ${plural(count, 'interval')} (${minutesOf(ctx, count)} min) ` +
              `from ${local(ctx, tsOf(ctx, runStart))}`,
            { count, valueKwh: values[runStart]! },
          ),
        );
      }
    }
    runStart = f === f ? i : -1; // NaN: not a candidate
    runValue = f;
  }
  return out;
};

const prolongedEstimation: RuleFn<'prolonged_estimation'> = (ctx, p: ProlongedEstimationParams) => {
  if (ctx.facts.substitutes === 0) return []; // nothing estimated: no run, no share
  const estimated = (i: number): boolean => {
    return present(ctx.values[i]) && isSubstitute(ctx.quality[i]!);
  };
  const out: Found[] = [];
  for (const r of runsWhere(ctx.n, estimated)) {
    const count = r[1] - r[0];
    if (minutesOf(ctx, count) < p.minConsecutiveMinutes) continue;
    out.push(
      runFound(
        ctx,
        r,
        `${plural(count, 'estimated interval')} in a row (${round(minutesOf(ctx, count) / 60, 2)} h) from ` +
          `${local(ctx, tsOf(ctx, r[0]))}`,
        { count },
      ),
    );
  }
  let due = 0;
  const all: number[] = [];
  for (let i = 0; i < ctx.n; i++) {
    if (installed(ctx, i) && tsOf(ctx, i) + ctx.step <= ctx.input.now) due++;
    if (estimated(i)) all.push(i);
  }
  if (due > 0 && all.length > 0) {
    const percent = (all.length / due) * 100;
    if (percent > p.maxWindowPercent) {
      out.push({
        from: ctx.start,
        to: tsOf(ctx, ctx.n),
        intervals: all,
        detail:
          `${plural(all.length, 'estimated interval')} of ${due} due in the window ` +
          `(${round(percent, 1)} %, limit ${p.maxWindowPercent} %)`,
        data: { count: all.length, due, percent: round(percent, 3) },
      });
    }
  }
  return out;
};

const RULES: { readonly [K in RuleId]: RuleFn<K> } = {
  missing,
  interval_alignment: intervalAlignment,
  future,
  pre_installation: preInstallation,
  conflicting_duplicate: conflictingDuplicate,
  negative,
  zero_run: zeroRun,
  high_low: highLow,
  spike,
  sum_check: sumCheck,
  multiplier_unit: multiplierUnit,
  consecutive_identical: consecutiveIdentical,
  prolonged_estimation: prolongedEstimation,
};

// ---------------------------------------------------------------------------------------------
// History

function buildHistory(ctx: Pick<Ctx, 'input' | 'zone'>): HistoryView {
  const h = ctx.input.history;
  const intervals = h?.intervals;
  let dailyTotals = (h?.dailyTotals ?? []).filter((x) => Number.isFinite(x));
  if (!intervals || intervals.values.length === 0) {
    return { dailyTotals, intervalDays: 0, slotStats: null };
  }
  const hv = packSeries(intervals).values;
  const step = intervals.intervalSeconds * 1000;
  const slotMinutes = intervals.intervalSeconds / 60;
  const days = localDays(intervals.start, intervals.values.length, step, ctx.input.meter.timeZone);
  const seen = new Map<number, [number, number]>();
  const completeTotals: number[] = [];
  let intervalDays = 0;
  for (const d of days) {
    let sum = 0;
    let count = 0;
    for (let i = d.first; i < d.last; i++) {
      const v = hv[i]!;
      if (v !== v) continue;
      sum += v;
      count++;
      const slot = Math.floor(localMinuteOfDay(intervals.start + i * step, ctx.zone) / slotMinutes);
      const s = seen.get(slot) ?? [0, 0];
      s[0]++;
      if (v > 0) s[1]++;
      seen.set(slot, s);
    }
    if (count > 0) intervalDays++;
    if (count === d.fullCount) completeTotals.push(sum);
  }
  if (!h?.dailyTotals) dailyTotals = completeTotals;
  return {
    dailyTotals,
    intervalDays,
    slotStats: (minute) => seen.get(Math.floor(minute / slotMinutes)),
  };
}

// ---------------------------------------------------------------------------------------------
// Entry point

function checkInput(input: VeeInput): void {
  const { series, meter } = input;
  if (series.intervalSeconds !== meter.intervalSeconds) {
    throw new MeterdataError(
      ErrorCode.INTERVAL_LENGTH_MISMATCH,
      `series of ${series.intervalSeconds} s intervals for meter ${meter.serial}, which records ` +
        `${meter.intervalSeconds} s: lay the readings on the meter's grid first`,
    );
  }
  if (!Number.isInteger(series.intervalSeconds) || series.intervalSeconds <= 0) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `interval of ${series.intervalSeconds} s is not a positive whole number`,
    );
  }
  if (series.start % (series.intervalSeconds * 1000) !== 0) {
    throw new MeterdataError(
      ErrorCode.MISALIGNED_INTERVAL,
      `series start ${series.start} is not on a ${series.intervalSeconds} s boundary`,
    );
  }
  if (series.quality.length !== series.values.length) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `series has ${series.values.length} values but ${series.quality.length} quality codes`,
    );
  }
  const hist = input.history?.intervals;
  if (
    hist &&
    (!Number.isInteger(hist.intervalSeconds) ||
      hist.intervalSeconds < 60 ||
      hist.quality.length !== hist.values.length)
  ) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `history.intervals needs whole-second intervals of at least 60 s and one quality code per ` +
        `value (got ${hist.intervalSeconds} s, ${hist.values.length} values, ${hist.quality.length} codes)`,
    );
  }
  if (!Number.isFinite(input.now))
    throw new MeterdataError(ErrorCode.BAD_USER_INPUT, 'now must be epoch ms');
}

function outageMask(series: PackedSeries, outages: VeeInput['outages']): Uint8Array {
  const n = series.values.length;
  const step = series.intervalSeconds * 1000;
  const mask = new Uint8Array(n);
  for (const o of outages ?? []) {
    if (!(o.to > o.from)) continue;
    const a = Math.max(0, Math.floor((o.from - series.start) / step));
    const b = Math.min(n, Math.ceil((o.to - series.start) / step));
    if (b > a) mask.fill(1, a, b);
  }
  return mask;
}

const RULE_ORDER = new Map(RULE_IDS.map((id, i) => [id, i]));
/** RULE_BIT as a map: a keyed property load over thirteen names deoptimised runRules */
const BIT_OF = new Map(RULE_IDS.map((id) => [id, RULE_BIT[id]]));

/**
 * Validates one meter-channel window with a rule set. Disabled rules do not run. Every failure
 * carries its rule's configured severity; `flags` ORs the rule bits of all failures covering an
 * interval, whatever their severity (the severity decides what the caller does with them).
 */
export function runRules(input: VeeInput, ruleSet: RuleSet): VeeResult {
  checkInput(input);
  const series = packSeries(input.series);
  const zone = zoneOf(input.meter.timeZone);
  const n = series.values.length;
  const step = series.intervalSeconds * 1000;
  let history: HistoryView | undefined;
  const skipped: SkippedRule[] = [];
  let current: RuleId = RULE_IDS[0];
  const ctx: Ctx = {
    input,
    n,
    start: series.start,
    step,
    hours: series.intervalSeconds / 3600,
    values: series.values,
    quality: series.quality,
    zone,
    days: localDays(series.start, n, step, input.meter.timeZone),
    outage: outageMask(series, input.outages),
    history: () => (history ??= buildHistory({ input, zone })),
    skip: (reason) => skipped.push({ rule: current, reason }),
    facts: windowFacts(series.values, series.quality),
  };
  const failures: RuleFailure[] = [];
  for (const id of RULE_IDS) {
    const cfg = ruleSet.rules[id];
    if (!cfg.enabled) continue;
    current = id;
    const fn = RULES[id] as RuleFn<RuleId>;
    // Indexed: the rules' result arrays differ in elements kind (an empty literal, objects),
    // which a for-of deoptimised on.
    const found = fn(ctx, cfg.params);
    for (let k = 0; k < found.length; k++) {
      failures.push({ rule: id, severity: cfg.severity, ...found[k]! });
    }
  }
  failures.sort(
    (a, b) => a.from - b.from || RULE_ORDER.get(a.rule)! - RULE_ORDER.get(b.rule)! || a.to - b.to,
  );
  const flags = new Int32Array(n);
  for (const f of failures) {
    const bit = BIT_OF.get(f.rule)!;
    const intervals = f.intervals;
    for (let k = 0; k < intervals.length; k++) flags[intervals[k]!] |= bit;
  }
  return { failures, flags, skipped };
}
