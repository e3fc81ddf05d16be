/**
 * Runs the default rule sets over simulated meters in memory, the way the ingest path will:
 * readings laid on each meter's grid in arrival order (a later different value for an interval
 * replaces the earlier one and is reported as a conflict), four weeks of clean history from the
 * same customers just before the window, and `now` a day after the window.
 */
import { sameValue } from '../../../src/domain/readings';
import type { Series } from '../../../src/domain/series';
import {
  NO_FAULTS,
  createSimulation,
  type FaultRates,
  type FaultReport,
  type MeterProfile,
  type ReadingRow,
  type Simulation,
} from '../../../src/domain/simulate';
import {
  DEFAULT_RULE_SETS,
  runRules,
  type LocatedFailure,
  type RuleSet,
  type VeeInput,
} from '../../../src/domain/vee';

export interface SimulatedRun {
  sim: Simulation;
  report: FaultReport;
  failures: LocatedFailure[];
}

export interface SimulatedOptions {
  meters: number;
  days: number;
  seed: number;
  start: number;
  faultRates?: Partial<FaultRates>;
  historyDays?: number;
  ruleSetFor?: (customerClass: 'RESIDENTIAL' | 'COMMERCIAL') => RuleSet;
}

const DAY = 86_400_000;

export interface SimulatedWindow {
  meter: MeterProfile;
  input: VeeInput;
}

/** The VEE input of every meter-channel of a simulation (window = the whole simulation). */
export function simulatedInputs(opts: SimulatedOptions): {
  sim: Simulation;
  windows: SimulatedWindow[];
} {
  const sim = createSimulation({
    meters: opts.meters,
    days: opts.days,
    seed: opts.seed,
    start: opts.start,
    faultRates: opts.faultRates,
  });
  const historyDays = opts.historyDays ?? 28;
  // Same seed, same customers (load parameters depend on (seed, meter index) only), clean.
  const past = createSimulation({
    meters: opts.meters,
    days: historyDays,
    seed: opts.seed,
    start: opts.start - historyDays * DAY,
    faultRates: NO_FAULTS,
  });
  const { grid } = sim;
  const windows: SimulatedWindow[] = [];
  for (let m = 0; m < sim.fleet.meters.length; m++) {
    const meter = sim.fleet.meters[m]!;
    const doc = sim.fleet.topology.meters[m]!;
    const { rows, resends } = sim.meterRows(m);
    const clean = past.cleanLoad(m);
    for (const channel of meter.channels) {
      const values = new Array<number | null>(grid.count).fill(null);
      const conflicts = new Map<number, number[]>();
      const received: VeeInput['received'] = [];
      const apply = (r: ReadingRow) => {
        if (r.channel !== channel) return;
        const i = (r.intervalStart - grid.start) / grid.intervalMs;
        received.push({ ts: r.intervalStart, intervalSeconds: r.intervalSeconds });
        const old = values[i];
        if (old !== null && old !== undefined && !sameValue(old, r.value)) {
          const list = conflicts.get(r.intervalStart) ?? [old];
          list.push(r.value);
          conflicts.set(r.intervalStart, list);
        }
        values[i] = r.value;
      };
      rows.forEach(apply);
      resends.forEach(apply);
      const series: Series = {
        start: grid.start,
        intervalSeconds: grid.intervalSeconds,
        values,
        quality: values.map((v) => (v === null ? null : 0)),
      };
      const hist = channel === 'delivered' ? clean.delivered : clean.received!;
      const history: Series = {
        start: past.grid.start,
        intervalSeconds: grid.intervalSeconds,
        values: Array.from(hist),
        quality: Array.from(hist, () => 0),
      };
      windows.push({
        meter,
        input: {
          meter: {
            serial: meter.serial,
            intervalSeconds: grid.intervalSeconds,
            installedAt: Date.parse(doc.installedAt),
            removedAt: null,
            multiplier: meter.multiplier,
            channel,
            timeZone: meter.timeZone,
          },
          series,
          received,
          conflicts: [...conflicts].map(([ts, vs]) => ({ ts, values: vs })),
          history: { intervals: history },
          now: grid.start + grid.count * grid.intervalMs + DAY,
        },
      });
    }
  }
  return { sim, windows };
}

export function runSimulated(opts: SimulatedOptions): SimulatedRun {
  const { sim, windows } = simulatedInputs(opts);
  const ruleSetFor = opts.ruleSetFor ?? ((c) => DEFAULT_RULE_SETS[c]);
  const failures: LocatedFailure[] = [];
  for (const { meter, input } of windows) {
    const result = runRules(input, ruleSetFor(meter.customerClass));
    for (const f of result.failures) {
      failures.push({ ...f, meterSerial: meter.serial, channel: input.meter.channel });
    }
  }
  return { sim, report: sim.report(), failures };
}
