/**
 * Fault injection. Faults are planned up front from positions only (no load values needed), so
 * the complete report is known before any reading is generated; rendering a meter's rows then
 * applies exactly the planned faults to its clean load.
 *
 * Fault kinds (all positions are indexes on the UTC interval grid):
 * - gap: a run of 1–16 missing intervals on one channel;
 * - spike: one delivered interval multiplied 10–50× (relative to max(value, 75th percentile of
 *   that meter's clean delivered values on the UTC day), so it is ≥ 10× the day's median);
 * - zeroRun: 8–32 consecutive zero delivered intervals where usage is expected (for PV meters
 *   only at local night, 21:00–05:00, when there is no generation to net against);
 * - duplicate: a run of 1–4 intervals on one channel whose identical rows are emitted twice,
 *   adjacently;
 * - changedResend: a run of 1–4 intervals on one channel first emitted with a wrong value and
 *   emitted again at the end of the output with the true value (the later one is the correction);
 * - outage: every meter (all channels) of one transformer missing for 30–180 minutes.
 *
 * Faults never overlap on the same meter, channel and interval, so every count is exact.
 */
import type { Channel, Fleet, MeterProfile } from './fleet';
import type { ReadingRow } from './index';
import { formatUtc, round4, type IntervalGrid, type LocalCalendar, type MeterLoad } from './load';
import { Rng } from './random';

export const FAULT_TYPES = [
  'gap',
  'spike',
  'zeroRun',
  'duplicate',
  'changedResend',
  'outage',
] as const;
export type FaultType = (typeof FAULT_TYPES)[number];
export type MeterFaultType = Exclude<FaultType, 'outage'>;

export interface FaultRates {
  /** gaps (1–16 missing intervals) per meter-week */
  gapsPerMeterWeek: number;
  /** spikes (one interval × 10–50) per meter-week */
  spikesPerMeterWeek: number;
  /** zero runs (8–32 intervals) per meter-week */
  zeroRunsPerMeterWeek: number;
  /** duplicated runs (1–4 intervals) per meter-week */
  duplicatesPerMeterWeek: number;
  /** changed resends (1–4 intervals) per meter-week */
  changedResendsPerMeterWeek: number;
  /** transformer outages (30–180 min) per transformer-month (30 days) */
  outagesPerTransformerMonth: number;
}

export const DEFAULT_FAULT_RATES: Readonly<FaultRates> = Object.freeze({
  gapsPerMeterWeek: 0.5,
  spikesPerMeterWeek: 0.3,
  zeroRunsPerMeterWeek: 0.1,
  duplicatesPerMeterWeek: 0.3,
  changedResendsPerMeterWeek: 0.2,
  outagesPerTransformerMonth: 0.2,
});

/** Rates of zero inject nothing. */
export const NO_FAULTS: Readonly<FaultRates> = Object.freeze({
  gapsPerMeterWeek: 0,
  spikesPerMeterWeek: 0,
  zeroRunsPerMeterWeek: 0,
  duplicatesPerMeterWeek: 0,
  changedResendsPerMeterWeek: 0,
  outagesPerTransformerMonth: 0,
});

export interface MeterFault {
  type: MeterFaultType;
  meterIndex: number;
  meterSerial: string;
  channel: Channel;
  /** first interval index */
  start: number;
  /** number of consecutive intervals */
  length: number;
  /** spike multiplier, or the wrong/true ratio of a changed resend's first emission */
  factor?: number;
}

export interface OutageFault {
  type: 'outage';
  transformer: string;
  transformerIndex: number;
  meterIndexes: number[];
  meterSerials: string[];
  start: number;
  length: number;
}

export type Fault = MeterFault | OutageFault;

export interface FaultStats {
  /** number of injected faults */
  count: number;
  /**
   * affected readings, i.e. (meter, channel, interval) triples: for an outage, intervals × the
   * channels of every meter on the transformer
   */
  affectedIntervals: number;
}

export type FaultSummary = Record<FaultType, FaultStats>;

export interface FaultPlan {
  rates: FaultRates;
  outages: OutageFault[];
  /** per transformer index */
  outagesByTransformer: OutageFault[][];
  /** per meter index, sorted by start */
  meterFaults: MeterFault[][];
  summary: FaultSummary;
  /** fault-free readings (Σ meters' channels × intervals) */
  cleanRows: number;
  /** rows the output will contain: clean − gaps − outages + duplicates + resends */
  expectedRows: number;
}

const PLACEMENT_ATTEMPTS = 25;

function emptySummary(): FaultSummary {
  const s = {} as FaultSummary;
  for (const t of FAULT_TYPES) s[t] = { count: 0, affectedIntervals: 0 };
  return s;
}

/**
 * Plans every fault for the fleet. Outages come from the stream (seed, 'outage', transformer),
 * meter faults from (seed, 'faults', meter index).
 * `calendarFor` gives the local calendar of a time zone (used to keep PV meters' zero runs at
 * night).
 */
export function planFaults(
  fleet: Fleet,
  grid: IntervalGrid,
  seed: number,
  calendarFor: (timeZone: string) => LocalCalendar,
  rates: Partial<FaultRates> = {},
): FaultPlan {
  const r: FaultRates = { ...DEFAULT_FAULT_RATES, ...rates };
  for (const [k, v] of Object.entries(r)) {
    if (!(Number.isFinite(v) && v >= 0)) throw new Error(`fault rate ${k} must be ≥ 0, got ${v}`);
  }
  const summary = emptySummary();
  const weeks = grid.days / 7;
  const months = grid.days / 30;
  const n = grid.count;
  let cleanRows = 0;
  for (const m of fleet.meters) cleanRows += m.channels.length * n;

  // ---- transformer outages
  const outages: OutageFault[] = [];
  const outagesByTransformer: OutageFault[][] = fleet.transformers.map(() => []);
  for (const tx of fleet.transformers) {
    const rng = Rng.derive(seed, 'outage', tx.index);
    const wanted = rng.poisson(r.outagesPerTransformerMonth * months);
    const taken = new Uint8Array(n);
    for (let k = 0; k < wanted; k++) {
      const minutes = rng.int(30, 180);
      const length = Math.max(1, Math.ceil((minutes * 60) / grid.intervalSeconds));
      if (length > n) continue;
      for (let attempt = 0; attempt < PLACEMENT_ATTEMPTS; attempt++) {
        const start = rng.int(0, n - length);
        if (!isFree(taken, start, length)) continue;
        taken.fill(1, start, start + length);
        const outage: OutageFault = {
          type: 'outage',
          transformer: tx.code,
          transformerIndex: tx.index,
          meterIndexes: tx.meterIndexes.slice(),
          meterSerials: tx.meterIndexes.map((i) => fleet.meters[i].serial),
          start,
          length,
        };
        outagesByTransformer[tx.index].push(outage);
        outages.push(outage);
        summary.outage.count++;
        for (const i of tx.meterIndexes) {
          summary.outage.affectedIntervals += length * fleet.meters[i].channels.length;
        }
        break;
      }
    }
  }
  outages.sort((a, b) => a.start - b.start || a.transformerIndex - b.transformerIndex);
  for (const list of outagesByTransformer) list.sort((a, b) => a.start - b.start);

  // ---- per-meter faults
  const meterFaults: MeterFault[][] = fleet.meters.map((meter) => {
    const rng = Rng.derive(seed, 'faults', meter.index);
    const taken = new Map<Channel, Uint8Array>();
    for (const ch of meter.channels) taken.set(ch, new Uint8Array(n));
    for (const o of outagesByTransformer[meter.transformerIndex]) {
      for (const flags of taken.values()) flags.fill(1, o.start, o.start + o.length);
    }
    const cal = meter.hasPv ? calendarFor(meter.timeZone) : null;
    const faults: MeterFault[] = [];

    const place = (
      type: MeterFaultType,
      rate: number,
      minLen: number,
      maxLen: number,
      deliveredOnly: boolean,
    ): void => {
      const wanted = rng.poisson(rate * weeks);
      for (let k = 0; k < wanted; k++) {
        const channel: Channel = deliveredOnly ? 'delivered' : rng.pick(meter.channels);
        const length = rng.int(minLen, maxLen);
        const factor =
          type === 'spike'
            ? Math.round(rng.range(10, 50) * 10) / 10
            : type === 'changedResend'
              ? Math.round((rng.chance(0.5) ? rng.range(0.3, 0.9) : rng.range(1.1, 1.8)) * 100) /
                100
              : undefined;
        if (length > n) continue;
        const flags = taken.get(channel) as Uint8Array;
        for (let attempt = 0; attempt < PLACEMENT_ATTEMPTS; attempt++) {
          const start = rng.int(0, n - length);
          if (!isFree(flags, start, length)) continue;
          if (type === 'zeroRun' && cal && !allNight(cal, start, length)) continue;
          flags.fill(1, start, start + length);
          const fault: MeterFault = {
            type,
            meterIndex: meter.index,
            meterSerial: meter.serial,
            channel,
            start,
            length,
          };
          if (factor !== undefined) fault.factor = factor;
          faults.push(fault);
          summary[type].count++;
          summary[type].affectedIntervals += length;
          break;
        }
      }
    };
    place('gap', r.gapsPerMeterWeek, 1, 16, false);
    place('spike', r.spikesPerMeterWeek, 1, 1, true);
    place('zeroRun', r.zeroRunsPerMeterWeek, 8, 32, true);
    place('duplicate', r.duplicatesPerMeterWeek, 1, 4, false);
    place('changedResend', r.changedResendsPerMeterWeek, 1, 4, false);
    faults.sort((a, b) => a.start - b.start || a.channel.localeCompare(b.channel));
    return faults;
  });

  const expectedRows =
    cleanRows -
    summary.gap.affectedIntervals -
    summary.outage.affectedIntervals +
    summary.duplicate.affectedIntervals +
    summary.changedResend.affectedIntervals;

  return {
    rates: r,
    outages,
    outagesByTransformer,
    meterFaults,
    summary,
    cleanRows,
    expectedRows,
  };
}

function isFree(flags: Uint8Array, start: number, length: number): boolean {
  for (let i = start; i < start + length; i++) if (flags[i]) return false;
  return true;
}

/** Every interval at local night (21:00–05:00), when PV cannot net usage away. */
function allNight(cal: LocalCalendar, start: number, length: number): boolean {
  for (let i = start; i < start + length; i++) {
    const h = cal.hour[i];
    if (h > 5 && h < 21) return false;
  }
  return true;
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = values.slice().sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export interface MeterRows {
  /** rows in meter/time order (channels in the meter's channel order), duplicates adjacent */
  rows: ReadingRow[];
  /** corrected rows of changed resends, to be emitted after every meter's rows */
  resends: ReadingRow[];
}

/** Applies the planned faults of one meter to its clean load and renders its rows. */
export function renderMeterRows(
  meter: MeterProfile,
  load: MeterLoad,
  plan: FaultPlan,
  grid: IntervalGrid,
): MeterRows {
  const n = grid.count;
  const channels = meter.channels;
  const clean = channels.map((ch) => (ch === 'received' ? load.received : load.delivered));
  if (clean.some((v) => v === null)) throw new Error(`meter ${meter.serial}: missing channel data`);
  const values = clean.map((v) => Float64Array.from(v as Float64Array));
  const missing = channels.map(() => new Uint8Array(n));
  const dup = channels.map(() => new Uint8Array(n));
  const wrong = channels.map(() => new Map<number, number>());

  for (const o of plan.outagesByTransformer[meter.transformerIndex]) {
    for (const m of missing) m.fill(1, o.start, o.start + o.length);
  }
  const faults = plan.meterFaults[meter.index];
  const resendFaults: MeterFault[] = [];
  for (const f of faults) {
    const c = channels.indexOf(f.channel);
    const end = f.start + f.length;
    switch (f.type) {
      case 'gap':
        missing[c].fill(1, f.start, end);
        break;
      case 'spike': {
        const dayStart = Math.floor(f.start / grid.perDay) * grid.perDay;
        const day = Array.from(
          (clean[c] as Float64Array).subarray(dayStart, dayStart + grid.perDay),
        );
        const ref = Math.max(values[c][f.start], quantile(day, 0.75), 0.01);
        values[c][f.start] = round4(ref * (f.factor ?? 10));
        break;
      }
      case 'zeroRun':
        values[c].fill(0, f.start, end);
        break;
      case 'duplicate':
        dup[c].fill(1, f.start, end);
        break;
      case 'changedResend':
        for (let i = f.start; i < end; i++) {
          const v = values[c][i];
          let w = round4(v * (f.factor ?? 0.5));
          if (w === v) w = round4(v + 0.001);
          wrong[c].set(i, w);
        }
        resendFaults.push(f);
        break;
    }
  }

  const serial = meter.serial;
  const intervalSeconds = grid.intervalSeconds;
  const rows: ReadingRow[] = [];
  for (let i = 0; i < n; i++) {
    const intervalStart = grid.start + i * grid.intervalMs;
    for (let c = 0; c < channels.length; c++) {
      if (missing[c][i]) continue;
      const w = wrong[c].get(i);
      const row: ReadingRow = {
        meterSerial: serial,
        channel: channels[c],
        intervalStart,
        intervalSeconds,
        value: w === undefined ? values[c][i] : w,
        unit: 'kWh',
      };
      rows.push(row);
      if (dup[c][i]) rows.push({ ...row });
    }
  }

  const resends: ReadingRow[] = [];
  for (const f of resendFaults) {
    const c = channels.indexOf(f.channel);
    for (let i = f.start; i < f.start + f.length; i++) {
      resends.push({
        meterSerial: serial,
        channel: f.channel,
        intervalStart: grid.start + i * grid.intervalMs,
        intervalSeconds,
        value: values[c][i],
        unit: 'kWh',
      });
    }
  }
  return { rows, resends };
}

// ---------------------------------------------------------------------------------------------
// Report (JSON shapes)
// ---------------------------------------------------------------------------------------------

export interface MeterFaultJson {
  type: MeterFaultType;
  meterSerial: string;
  channel: Channel;
  intervalStarts: string[];
  factor?: number;
}

export interface OutageFaultJson {
  type: 'outage';
  transformer: string;
  /** every channel of each of these meters is missing */
  meterSerials: string[];
  intervalStarts: string[];
}

export type FaultJson = MeterFaultJson | OutageFaultJson;

export interface FaultReportHeader {
  seed: number;
  meters: number;
  days: number;
  start: string;
  intervalSeconds: number;
  rates: FaultRates;
  summary: FaultSummary;
  cleanRows: number;
  expectedRows: number;
}

export interface FaultReport extends FaultReportHeader {
  faults: FaultJson[];
}

export function faultToJson(
  f: Fault,
  grid: IntervalGrid,
  format: (ms: number) => string = formatUtc,
): FaultJson {
  const intervalStarts: string[] = [];
  for (let i = f.start; i < f.start + f.length; i++) {
    intervalStarts.push(format(grid.start + i * grid.intervalMs));
  }
  if (f.type === 'outage') {
    return {
      type: 'outage',
      transformer: f.transformer,
      meterSerials: f.meterSerials,
      intervalStarts,
    };
  }
  const json: MeterFaultJson = {
    type: f.type,
    meterSerial: f.meterSerial,
    channel: f.channel,
    intervalStarts,
  };
  if (f.factor !== undefined) json.factor = f.factor;
  return json;
}

/** Every fault in report order: outages (by time), then each meter's faults (by time). */
export function* allFaults(plan: FaultPlan): Generator<Fault> {
  yield* plan.outages;
  for (const list of plan.meterFaults) yield* list;
}
