/**
 * Synthetic fleet simulator (pure: no I/O). See `createSimulation`.
 *
 * Determinism: the same options give identical topology, fault plan and readings. Every meter's
 * readings come from streams derived from (seed, meter index), so they do not depend on the
 * order meters are generated in.
 *
 * Memory: the topology and the fault plan are held in memory; readings are generated lazily,
 * one meter at a time, in batches.
 */
import {
  allFaults,
  faultToJson,
  planFaults,
  renderMeterRows,
  type FaultPlan,
  type FaultRates,
  type FaultReport,
  type FaultReportHeader,
  type MeterRows,
} from './faults';
import { generateFleet, type Fleet, type FleetMix } from './fleet';
import {
  buildCalendar,
  createGrid,
  formatUtc,
  gridTimestampFormatter,
  meterLoad,
  type IntervalGrid,
  type LocalCalendar,
  type MeterLoad,
} from './load';
import { Rng } from './random';

export interface ReadingRow {
  meterSerial: string;
  channel: 'delivered' | 'received';
  /** epoch ms UTC */
  intervalStart: number;
  intervalSeconds: number;
  value: number;
  unit: 'kWh' | 'Wh';
}

export interface SimulationOptions {
  meters: number;
  days: number;
  seed: number;
  /** epoch ms (UTC) of the first interval; must be aligned to the interval */
  start: number;
  /** default 900 */
  intervalSeconds?: number;
  /** fault rates; unspecified ones take DEFAULT_FAULT_RATES */
  faultRates?: Partial<FaultRates>;
  /** customer mix; unspecified values take DEFAULT_FLEET_MIX */
  mix?: Partial<FleetMix>;
}

export interface BatchOptions {
  /** maximum rows per batch (default 10,000); a batch never spans two meters */
  batchSize?: number;
  /** called after each meter's rows have been yielded */
  onMeter?: (done: number, total: number) => void;
}

export interface Simulation {
  readonly seed: number;
  readonly fleet: Fleet;
  readonly grid: IntervalGrid;
  readonly plan: FaultPlan;
  /** local calendar (with daily weather) of a time zone, cached */
  calendar(timeZone: string): LocalCalendar;
  /** clean (fault-free) load of one meter */
  cleanLoad(meterIndex: number): MeterLoad;
  /** one meter's rows with its faults applied, plus its changed resends */
  meterRows(meterIndex: number): MeterRows;
  /**
   * All rows: meters in order (each meter's rows by time, duplicates adjacent), then every
   * changed resend. Lazily generated; each call starts over and yields identical batches.
   */
  batches(options?: BatchOptions): Generator<ReadingRow[]>;
  /** the report header (options, rates, per-type summary, expected row count) */
  reportHeader(): FaultReportHeader;
  /** the whole fault report, with every fault's interval starts (in memory) */
  report(): FaultReport;
}

export function createSimulation(options: SimulationOptions): Simulation {
  const { meters, days, seed, start } = options;
  const intervalSeconds = options.intervalSeconds ?? 900;
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const grid = createGrid(start, days, intervalSeconds);
  const fleet = generateFleet({ meters, seed, start, intervalSeconds, mix: options.mix });
  const calendars = new Map<string, LocalCalendar>();
  const calendar = (timeZone: string): LocalCalendar => {
    let cal = calendars.get(timeZone);
    if (!cal) {
      cal = buildCalendar(grid, timeZone, seed);
      calendars.set(timeZone, cal);
    }
    return cal;
  };
  const plan = planFaults(fleet, grid, seed, calendar, options.faultRates);

  const cleanLoad = (meterIndex: number): MeterLoad => {
    const meter = fleet.meters[meterIndex];
    if (!meter) throw new RangeError(`no meter #${meterIndex}`);
    return meterLoad(
      meter.load,
      grid,
      calendar(meter.timeZone),
      Rng.derive(seed, 'load', meterIndex),
    );
  };
  const meterRows = (meterIndex: number): MeterRows => {
    const meter = fleet.meters[meterIndex];
    if (!meter) throw new RangeError(`no meter #${meterIndex}`);
    return renderMeterRows(meter, cleanLoad(meterIndex), plan, grid);
  };

  function* batches(batchOptions: BatchOptions = {}): Generator<ReadingRow[]> {
    const size = Math.max(1, batchOptions.batchSize ?? 10_000);
    const total = fleet.meters.length;
    const resends: ReadingRow[] = [];
    for (let m = 0; m < total; m++) {
      const { rows, resends: mine } = meterRows(m);
      for (const r of mine) resends.push(r);
      if (rows.length <= size) {
        if (rows.length) yield rows;
      } else {
        for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
      }
      batchOptions.onMeter?.(m + 1, total);
    }
    for (let i = 0; i < resends.length; i += size) yield resends.slice(i, i + size);
  }

  const reportHeader = (): FaultReportHeader => ({
    seed,
    meters: fleet.meters.length,
    days: grid.days,
    start: formatUtc(grid.start),
    intervalSeconds: grid.intervalSeconds,
    rates: { ...plan.rates },
    summary: plan.summary,
    cleanRows: plan.cleanRows,
    expectedRows: plan.expectedRows,
  });

  const report = (): FaultReport => {
    const fmt = gridTimestampFormatter(grid);
    const faults = [];
    for (const f of allFaults(plan)) faults.push(faultToJson(f, grid, fmt));
    return { ...reportHeader(), faults };
  };

  return { seed, fleet, grid, plan, calendar, cleanLoad, meterRows, batches, reportHeader, report };
}

export {
  DEFAULT_FAULT_RATES,
  NO_FAULTS,
  FAULT_TYPES,
  allFaults,
  faultToJson,
  planFaults,
  renderMeterRows,
} from './faults';
export type {
  Fault,
  FaultJson,
  FaultPlan,
  FaultRates,
  FaultReport,
  FaultReportHeader,
  FaultStats,
  FaultSummary,
  FaultType,
  MeterFault,
  MeterFaultJson,
  MeterRows,
  OutageFault,
  OutageFaultJson,
} from './faults';
export { DEFAULT_FLEET_MIX, TIME_ZONES, generateFleet, meterSerial } from './fleet';
export type {
  Channel,
  Fleet,
  FleetMix,
  FleetOptions,
  MeterProfile,
  TransformerGroup,
} from './fleet';
export {
  buildCalendar,
  createGrid,
  formatUtc,
  gridTimestampFormatter,
  meterLoad,
  round4,
} from './load';
export type {
  CommercialLoadParams,
  IntervalGrid,
  LoadParams,
  LocalCalendar,
  LocalDay,
  MeterLoad,
  ResidentialLoadParams,
} from './load';
export { Rng, deterministicUuid, hash32 } from './random';
