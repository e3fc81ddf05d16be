import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import {
  CSV_HEADER,
  defaultStart,
  formatSimulateSummary,
  parseStart,
  registerSimulate,
  runSimulate,
  type SimulateDeps,
} from '../../src/cli/simulate';
import {
  DEFAULT_FAULT_RATES,
  FAULT_TYPES,
  NO_FAULTS,
  Rng,
  buildCalendar,
  createGrid,
  createSimulation,
  formatUtc,
  generateFleet,
  type FaultReport,
  type ReadingRow,
  type Simulation,
  type SimulationOptions,
} from '../../src/domain/simulate';

const JAN_1_2026 = Date.UTC(2026, 0, 1);
const JUN_1_2026 = Date.UTC(2026, 5, 1);

function allRows(sim: Simulation): ReadingRow[] {
  const rows: ReadingRow[] = [];
  for (const batch of sim.batches({ batchSize: 500 })) for (const r of batch) rows.push(r);
  return rows;
}

function digest(sim: Simulation): string {
  const h = createHash('sha256');
  for (const batch of sim.batches()) h.update(JSON.stringify(batch));
  return h.digest('hex');
}

const key = (serial: string, channel: string, ms: number): string => `${serial}|${channel}|${ms}`;

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

describe('Rng', () => {
  it('is deterministic per (seed, keys) and independent across keys', () => {
    const a = Rng.derive(7, 'load', 3);
    const b = Rng.derive(7, 'load', 3);
    const c = Rng.derive(7, 'load', 4);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });

  it('has sane normal and poisson moments', () => {
    const rng = new Rng(42);
    let sum = 0;
    let sq = 0;
    let pois = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      sum += z;
      sq += z * z;
      pois += rng.poisson(2.5);
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.05);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
    expect(Math.abs(pois / n - 2.5)).toBeLessThan(0.1);
    expect(rng.poisson(0)).toBe(0);
  });
});

describe('fleet topology', () => {
  const fleet = generateFleet({ meters: 4500, seed: 5, start: JAN_1_2026, intervalSeconds: 900 });
  const doc = fleet.topology;

  it('has the substation → feeder → transformer → service point → meter hierarchy', () => {
    expect(doc.substations).toHaveLength(2);
    expect(doc.feeders).toHaveLength(8);
    expect(doc.meters).toHaveLength(4500);
    expect(doc.servicePoints).toHaveLength(4500);
    expect(doc.accounts).toHaveLength(4500);
    const feeders = new Set(doc.feeders.map((f) => f.code));
    const substations = new Set(doc.substations.map((s) => s.code));
    const transformers = new Set(doc.transformers.map((t) => t.code));
    const sps = new Set(doc.servicePoints.map((s) => s.code));
    const accounts = new Set(doc.accounts.map((a) => a.code));
    for (const f of doc.feeders) expect(substations.has(f.substation)).toBe(true);
    for (const t of doc.transformers) expect(feeders.has(t.feeder)).toBe(true);
    for (const s of doc.servicePoints) {
      expect(transformers.has(s.transformer)).toBe(true);
      expect(accounts.has(s.account as string)).toBe(true);
    }
    for (const m of doc.meters) expect(sps.has(m.servicePoint)).toBe(true);
    expect(new Set(doc.meters.map((m) => m.serial)).size).toBe(4500);
    expect(new Set(doc.meters.map((m) => m.mrid)).size).toBe(4500);
  });

  it('sizes and phases transformers by customer class', () => {
    const classOf = new Map(doc.accounts.map((a) => [a.code, a.customerClass]));
    const byTx = new Map<string, string[]>();
    for (const sp of doc.servicePoints) {
      const list = byTx.get(sp.transformer) ?? [];
      list.push(classOf.get(sp.account as string) as string);
      byTx.set(sp.transformer, list);
    }
    const last = doc.transformers[doc.transformers.length - 1].code;
    for (const t of doc.transformers) {
      const classes = byTx.get(t.code) as string[];
      if (classes[0] === 'COMMERCIAL') {
        expect(classes).toEqual(['COMMERCIAL']);
        expect(t.phase).toBe('ABC');
        expect([150, 225, 300, 500]).toContain(t.ratedKva);
      } else {
        expect(classes.every((c) => c === 'RESIDENTIAL')).toBe(true);
        if (t.code !== last) expect(classes.length).toBeGreaterThanOrEqual(4);
        expect(classes.length).toBeLessThanOrEqual(12);
        expect(['A', 'B', 'C']).toContain(t.phase);
        expect([25, 50, 75, 100]).toContain(t.ratedKva);
      }
    }
    const commercial = doc.accounts.filter((a) => a.customerClass === 'COMMERCIAL').length;
    expect(commercial / 4500).toBeGreaterThan(0.07);
    expect(commercial / 4500).toBeLessThan(0.13);
  });

  it('produces plausible meters and service points', () => {
    const zones = new Map<string, number>();
    for (const sp of doc.servicePoints) zones.set(sp.timeZone, (zones.get(sp.timeZone) ?? 0) + 1);
    expect([...zones.keys()].sort()).toEqual([
      'America/Chicago',
      'America/Los_Angeles',
      'America/New_York',
    ]);
    expect((zones.get('America/New_York') as number) / 4500).toBeGreaterThan(0.6);
    const comm = new Set(doc.meters.map((m) => m.commPath));
    expect([...comm].sort()).toEqual(['CELLULAR', 'PLC', 'RF_MESH']);
    for (const m of doc.meters) {
      expect(m.serial).toMatch(/^MD\d{8}$/);
      expect(m.mrid).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      expect(m.status).toBe('ACTIVE');
      expect(m.unit).toBe('kWh');
      expect(m.intervalSeconds).toBe(900);
      expect(Date.parse(m.installedAt)).toBeLessThan(JAN_1_2026);
      expect(m.installedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    const pv = fleet.meters.filter((m) => m.hasPv);
    expect(pv.length / 4500).toBeGreaterThan(0.06);
    for (const m of pv) expect(m.channels).toEqual(['delivered', 'received']);
    expect(fleet.meters.filter((m) => !m.hasPv).every((m) => m.channels.length === 1)).toBe(true);
    expect(fleet.meters.some((m) => m.customerClass === 'COMMERCIAL' && m.multiplier > 1)).toBe(
      true,
    );
  });

  it('keeps a meter the same customer whatever the fleet size', () => {
    const small = generateFleet({ meters: 50, seed: 5, start: JAN_1_2026, intervalSeconds: 900 });
    for (let i = 0; i < 50; i++) {
      expect(small.meters[i].load).toEqual(fleet.meters[i].load);
      expect(small.meters[i].customerClass).toBe(fleet.meters[i].customerClass);
    }
  });
});

describe('determinism', () => {
  const opts: SimulationOptions = { meters: 30, days: 7, seed: 11, start: JAN_1_2026 };

  it('gives identical topology, faults and readings for the same options', () => {
    const a = createSimulation(opts);
    const b = createSimulation(opts);
    expect(JSON.stringify(b.fleet.topology)).toBe(JSON.stringify(a.fleet.topology));
    expect(JSON.stringify(b.report())).toBe(JSON.stringify(a.report()));
    expect(digest(b)).toBe(digest(a));
    // and a second pass over the same simulation is identical too
    expect(digest(a)).toBe(digest(b));
  });

  it('changes with the seed', () => {
    const a = createSimulation(opts);
    const c = createSimulation({ ...opts, seed: 12 });
    expect(JSON.stringify(c.fleet.topology)).not.toBe(JSON.stringify(a.fleet.topology));
    expect(digest(c)).not.toBe(digest(a));
  });

  it('does not depend on generation order', () => {
    const a = createSimulation(opts);
    const reversed = createSimulation(opts);
    const late = reversed.meterRows(17);
    for (let m = 29; m >= 0; m--) reversed.meterRows(m);
    const rows = allRows(a).filter((r) => r.meterSerial === a.fleet.meters[17].serial);
    const resendCount = late.resends.length;
    expect(rows.slice(0, rows.length - resendCount)).toEqual(late.rows);
    expect(rows.slice(rows.length - resendCount)).toEqual(late.resends);
  });
});

describe('readings and faults', () => {
  // higher-than-default rates so that every fault type shows up in a small fleet
  const sim = createSimulation({
    meters: 40,
    days: 21,
    seed: 3,
    start: JAN_1_2026,
    faultRates: {
      gapsPerMeterWeek: 1,
      spikesPerMeterWeek: 1,
      zeroRunsPerMeterWeek: 0.5,
      duplicatesPerMeterWeek: 1,
      changedResendsPerMeterWeek: 1,
      outagesPerTransformerMonth: 1,
    },
  });
  const report: FaultReport = sim.report();
  const rows = allRows(sim);
  const grid = sim.grid;
  const serialIndex = new Map(sim.fleet.meters.map((m) => [m.serial, m.index]));
  /** every emission position of (meter, channel, interval) */
  const positions = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const k = key(r.meterSerial, r.channel, r.intervalStart);
    const list = positions.get(k);
    if (list) list.push(i);
    else positions.set(k, [i]);
  });
  const loads = new Map<number, ReturnType<Simulation['cleanLoad']>>();
  const cleanLoad = (m: number): ReturnType<Simulation['cleanLoad']> => {
    let l = loads.get(m);
    if (!l) {
      l = sim.cleanLoad(m);
      loads.set(m, l);
    }
    return l;
  };
  const firstValue = (serial: string, channel: string, ms: number): number | undefined => {
    const p = positions.get(key(serial, channel, ms));
    return p ? rows[p[0]].value : undefined;
  };

  it('reports every fault type with its default rates available', () => {
    expect(DEFAULT_FAULT_RATES).toEqual({
      gapsPerMeterWeek: 0.5,
      spikesPerMeterWeek: 0.3,
      zeroRunsPerMeterWeek: 0.1,
      duplicatesPerMeterWeek: 0.3,
      changedResendsPerMeterWeek: 0.2,
      outagesPerTransformerMonth: 0.2,
    });
    for (const t of FAULT_TYPES) {
      expect(report.summary[t].count).toBeGreaterThan(0);
      expect(report.faults.filter((f) => f.type === t)).toHaveLength(report.summary[t].count);
    }
  });

  it('emits exactly meters × channels × intervals − gaps − outages + duplicates + resends rows', () => {
    let expected = 0;
    for (const m of sim.fleet.meters) expected += m.channels.length * grid.count;
    const channelsOf = (serial: string): number =>
      sim.fleet.meters[serialIndex.get(serial) as number].channels.length;
    for (const f of report.faults) {
      if (f.type === 'gap') expected -= f.intervalStarts.length;
      else if (f.type === 'outage') {
        for (const s of f.meterSerials) expected -= f.intervalStarts.length * channelsOf(s);
      } else if (f.type === 'duplicate' || f.type === 'changedResend') {
        expected += f.intervalStarts.length;
      }
    }
    expect(rows.length).toBe(expected);
    expect(report.expectedRows).toBe(expected);
    expect(grid.count).toBe(21 * 96);
  });

  it('matches the report: gaps and outages are absent', () => {
    for (const f of report.faults) {
      if (f.type === 'gap') {
        expect(f.intervalStarts.length).toBeGreaterThanOrEqual(1);
        expect(f.intervalStarts.length).toBeLessThanOrEqual(16);
        for (const s of f.intervalStarts) {
          expect(positions.has(key(f.meterSerial, f.channel, Date.parse(s)))).toBe(false);
        }
      }
    }
  });

  it('takes out every meter of the transformer together in an outage', () => {
    const outages = report.faults.filter((f) => f.type === 'outage');
    expect(outages.length).toBeGreaterThan(0);
    for (const f of outages) {
      if (f.type !== 'outage') continue;
      const onTransformer = sim.fleet.topology.servicePoints
        .filter((sp) => sp.transformer === f.transformer)
        .map((sp) => sim.fleet.topology.meters.find((m) => m.servicePoint === sp.code)?.serial);
      expect([...f.meterSerials].sort()).toEqual([...onTransformer].sort());
      const minutes = (f.intervalStarts.length * grid.intervalSeconds) / 60;
      expect(minutes).toBeGreaterThanOrEqual(30);
      expect(minutes).toBeLessThanOrEqual(180 + 15);
      for (const serial of f.meterSerials) {
        const meter = sim.fleet.meters[serialIndex.get(serial) as number];
        for (const ch of meter.channels) {
          for (const s of f.intervalStarts) {
            expect(positions.has(key(serial, ch, Date.parse(s)))).toBe(false);
          }
          // the meter reports again right after the outage
          const after = Date.parse(f.intervalStarts[f.intervalStarts.length - 1]) + grid.intervalMs;
          if (after < grid.start + grid.count * grid.intervalMs) {
            const faultedAfter = report.faults.some(
              (g) =>
                g.type === 'gap' &&
                g.meterSerial === serial &&
                g.intervalStarts.includes(formatUtc(after)),
            );
            if (!faultedAfter) expect(positions.has(key(serial, ch, after))).toBe(true);
          }
        }
      }
    }
  });

  it('matches the report: spikes, zero runs, duplicates and changed resends', () => {
    const resendTotal = report.summary.changedResend.affectedIntervals;
    for (const f of report.faults) {
      if (f.type === 'outage' || f.type === 'gap') continue;
      const starts = f.intervalStarts.map((s) => Date.parse(s));
      switch (f.type) {
        case 'spike': {
          expect(starts).toHaveLength(1);
          const ms = starts[0];
          const dayStart = ms - ((ms - grid.start) % 86_400_000);
          const day: number[] = [];
          for (let t = dayStart; t < dayStart + 86_400_000; t += grid.intervalMs) {
            const v = firstValue(f.meterSerial, f.channel, t);
            if (v !== undefined) day.push(v);
          }
          const v = firstValue(f.meterSerial, f.channel, ms) as number;
          expect(v).toBeGreaterThanOrEqual(10 * median(day));
          expect(v).toBeGreaterThan(0);
          break;
        }
        case 'zeroRun': {
          expect(starts.length).toBeGreaterThanOrEqual(8);
          const clean = cleanLoad(serialIndex.get(f.meterSerial) as number).delivered;
          starts.forEach((ms, k) => {
            if (k) expect(ms - starts[k - 1]).toBe(grid.intervalMs);
            expect(positions.get(key(f.meterSerial, f.channel, ms))).toHaveLength(1);
            expect(firstValue(f.meterSerial, f.channel, ms)).toBe(0);
            expect(clean[(ms - grid.start) / grid.intervalMs]).toBeGreaterThan(0);
          });
          break;
        }
        case 'duplicate':
          for (const ms of starts) {
            const p = positions.get(key(f.meterSerial, f.channel, ms)) as number[];
            expect(p).toHaveLength(2);
            expect(rows[p[1]]).toEqual(rows[p[0]]);
            // adjacent, or separated only by the same interval's other channel
            expect(p[1] - p[0]).toBeLessThanOrEqual(2);
            expect(p[1]).toBeLessThan(rows.length - resendTotal);
          }
          break;
        case 'changedResend':
          for (const ms of starts) {
            const p = positions.get(key(f.meterSerial, f.channel, ms)) as number[];
            expect(p).toHaveLength(2);
            expect(rows[p[1]].value).not.toBe(rows[p[0]].value);
            expect(p[0]).toBeLessThan(rows.length - resendTotal);
            expect(p[1]).toBeGreaterThanOrEqual(rows.length - resendTotal);
            // the later one is the correction: the clean value
            const m = serialIndex.get(f.meterSerial) as number;
            const load = cleanLoad(m);
            const clean = f.channel === 'received' ? load.received : load.delivered;
            expect(rows[p[1]].value).toBe(clean?.[(ms - grid.start) / grid.intervalMs]);
          }
          break;
      }
    }
  });

  it('leaves everything that is not reported untouched', () => {
    const faulted = new Set<string>();
    for (const f of report.faults) {
      const serials = f.type === 'outage' ? f.meterSerials : [f.meterSerial];
      for (const serial of serials) {
        for (const s of f.intervalStarts) {
          faulted.add(key(serial, f.type === 'outage' ? '*' : f.channel, Date.parse(s)));
        }
      }
    }
    const bad: string[] = [];
    let checked = 0;
    for (const m of sim.fleet.meters) {
      const load = cleanLoad(m.index);
      for (const ch of m.channels) {
        const clean = (ch === 'received' ? load.received : load.delivered) as Float64Array;
        for (let i = 0; i < grid.count; i++) {
          const ms = grid.start + i * grid.intervalMs;
          if (faulted.has(key(m.serial, ch, ms)) || faulted.has(key(m.serial, '*', ms))) continue;
          const p = positions.get(key(m.serial, ch, ms));
          checked++;
          if (!p || p.length !== 1 || rows[p[0]].value !== clean[i])
            bad.push(key(m.serial, ch, ms));
        }
      }
    }
    expect(bad).toEqual([]);
    expect(checked).toBeGreaterThan(0.95 * rows.length);
  });

  it('groups rows by meter then time', () => {
    const resendTotal = report.summary.changedResend.affectedIntervals;
    const main = rows.slice(0, rows.length - resendTotal);
    const bad: string[] = [];
    for (let i = 1; i < main.length; i++) {
      const a = main[i - 1];
      const b = main[i];
      const ia = serialIndex.get(a.meterSerial) as number;
      const ib = serialIndex.get(b.meterSerial) as number;
      if (ib < ia || (ia === ib && b.intervalStart < a.intervalStart)) bad.push(`order at ${i}`);
    }
    for (const r of rows) {
      const ok =
        r.unit === 'kWh' &&
        r.intervalSeconds === 900 &&
        Math.round(r.value * 10_000) / 10_000 === r.value &&
        r.value >= 0;
      if (!ok) bad.push(JSON.stringify(r));
    }
    expect(bad).toEqual([]);
  });

  it('yields with the default rates when none are given, and nothing with NO_FAULTS', () => {
    const clean = createSimulation({
      meters: 5,
      days: 2,
      seed: 1,
      start: JAN_1_2026,
      faultRates: NO_FAULTS,
    });
    const n = clean.fleet.meters.reduce((s, m) => s + m.channels.length, 0) * 192;
    expect(allRows(clean)).toHaveLength(n);
    expect(clean.report().faults).toEqual([]);
    expect(createSimulation({ meters: 5, days: 2, seed: 1, start: JAN_1_2026 }).plan.rates).toEqual(
      DEFAULT_FAULT_RATES,
    );
  });
});

describe('load shapes', () => {
  const sim = createSimulation({
    meters: 300,
    days: 14,
    seed: 8,
    start: JUN_1_2026,
    faultRates: NO_FAULTS,
  });

  it('gives PV meters a received channel that is zero at night and exports at midday', () => {
    const pv = sim.fleet.meters.filter((m) => m.hasPv);
    expect(pv.length).toBeGreaterThan(5);
    let exported = 0;
    let nightExport = 0;
    let nightRows = 0;
    let both = 0;
    for (const m of pv) {
      const cal = sim.calendar(m.timeZone);
      const { rows } = sim.meterRows(m.index);
      for (const r of rows) {
        if (r.channel !== 'received') continue;
        const h = cal.hour[(r.intervalStart - sim.grid.start) / sim.grid.intervalMs];
        if (h < 4 || h >= 22) {
          nightRows++;
          nightExport += r.value;
        }
        if (h >= 11 && h < 15) exported += r.value;
      }
      const load = sim.cleanLoad(m.index);
      const received = load.received as Float64Array;
      // never importing and exporting in the same interval
      for (let i = 0; i < received.length; i++)
        if (received[i] > 0 && load.delivered[i] > 0) both++;
    }
    expect(nightRows).toBeGreaterThan(pv.length * 14 * 20);
    expect(nightExport).toBe(0);
    expect(both).toBe(0);
    expect(exported).toBeGreaterThan(0);
  });

  it('has realistic daily energy and shape', () => {
    const res: number[] = [];
    const com: number[] = [];
    let morning = 0;
    let night = 0;
    let evening = 0;
    for (const m of sim.fleet.meters) {
      const load = sim.cleanLoad(m.index);
      let total = 0;
      for (let i = 0; i < load.delivered.length; i++) {
        total += load.delivered[i] - (load.received?.[i] ?? 0);
      }
      (m.customerClass === 'COMMERCIAL' ? com : res).push(total / 14);
      if (m.customerClass === 'RESIDENTIAL' && !m.hasPv) {
        const cal = sim.calendar(m.timeZone);
        for (let i = 0; i < load.delivered.length; i++) {
          const h = cal.hour[i];
          if (h >= 2 && h < 4) night += load.delivered[i];
          else if (h >= 18 && h < 20) evening += load.delivered[i];
          else if (h >= 6 && h < 8) morning += load.delivered[i];
        }
      }
    }
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(avg(res)).toBeGreaterThan(18);
    expect(avg(res)).toBeLessThan(40);
    expect(avg(com) / avg(res)).toBeGreaterThan(8);
    expect(avg(com) / avg(res)).toBeLessThan(35);
    expect(evening).toBeGreaterThan(1.5 * night);
    expect(morning).toBeGreaterThan(night);
  });

  it('has commercial business-hours plateaus on weekdays and low weekends', () => {
    const c = sim.fleet.meters.filter((m) => m.customerClass === 'COMMERCIAL');
    expect(c.length).toBeGreaterThan(10);
    let weekdayNoon = 0;
    let weekendNoon = 0;
    let weekdayNight = 0;
    for (const m of c) {
      const cal = sim.calendar(m.timeZone);
      const load = sim.cleanLoad(m.index).delivered;
      for (let i = 0; i < load.length; i++) {
        const day = cal.days[cal.day[i]];
        const h = cal.hour[i];
        if (h >= 11 && h < 14) {
          if (day.weekday >= 6) weekendNoon += load[i];
          else weekdayNoon += load[i];
        } else if (h >= 1 && h < 4 && day.weekday < 6) weekdayNight += load[i];
      }
    }
    // 10 weekdays and 4 weekend days in the two weeks from Monday 2026-06-01
    expect(weekdayNoon / 10).toBeGreaterThan(1.8 * (weekendNoon / 4));
    expect(weekdayNoon).toBeGreaterThan(2 * weekdayNight);
  });
});

describe('DST', () => {
  it('keeps the UTC grid regular and gives the spring-forward local day 92 intervals', () => {
    const grid = createGrid(Date.UTC(2026, 2, 6), 4, 900);
    const cal = buildCalendar(grid, 'America/New_York', 1);
    const byDate = new Map(cal.days.map((d) => [d.date, d]));
    expect(byDate.get('2026-03-07')?.count).toBe(96);
    expect(byDate.get('2026-03-08')?.count).toBe(92);
    for (let i = 1; i < grid.count; i++) {
      expect(cal.day[i] - cal.day[i - 1]).toBeGreaterThanOrEqual(0);
    }
    // 12:00Z is 07:00 EST before and 08:00 EDT after
    const at = (ms: number): number => cal.hour[(ms - grid.start) / grid.intervalMs];
    expect(at(Date.UTC(2026, 2, 7, 12))).toBeCloseTo(7.125, 6);
    expect(at(Date.UTC(2026, 2, 9, 12))).toBeCloseTo(8.125, 6);
    const fall = buildCalendar(createGrid(Date.UTC(2026, 9, 30), 4, 900), 'America/New_York', 1);
    expect(fall.days.find((d) => d.date === '2026-11-01')?.count).toBe(100);
  });

  it('generates a full regular day of readings across spring-forward', () => {
    const sim = createSimulation({
      meters: 12,
      days: 4,
      seed: 2,
      start: Date.UTC(2026, 2, 6),
      faultRates: NO_FAULTS,
    });
    const m = sim.fleet.meters.find((x) => x.timeZone === 'America/New_York');
    expect(m).toBeDefined();
    const cal = sim.calendar('America/New_York');
    const day = cal.days.find((d) => d.date === '2026-03-08');
    expect(day?.count).toBe(92);
    const rows = sim
      .meterRows((m as { index: number }).index)
      .rows.filter((r) => r.channel === 'delivered');
    expect(rows).toHaveLength(4 * 96);
    for (let i = 1; i < rows.length; i++) {
      expect(rows[i].intervalStart - rows[i - 1].intervalStart).toBe(900_000);
    }
    const local = rows.slice(day?.first, (day?.first ?? 0) + 92);
    expect(local.every((r) => r.value > 0)).toBe(true);
  });
});

describe('runSimulate', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'meterdata-sim-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const opts = { meters: 8, days: 3, seed: 4, start: '2026-01-01' };

  it('writes topology.json, readings.csv and faults.json deterministically', async () => {
    const report = await runSimulate({ ...opts, out: dir }, { progress: false });
    expect(report.start).toBe('2026-01-01T00:00:00Z');
    expect(report.rows).toBe(report.expectedRows);
    expect(report.files?.readings).toBe(path.join(dir, 'readings.csv'));

    const csv = await readFile(path.join(dir, 'readings.csv'), 'utf8');
    const lines = csv.trimEnd().split('\n');
    expect(lines[0] + '\n').toBe(CSV_HEADER);
    expect(lines).toHaveLength(report.rows + 1);
    expect(lines[1]).toMatch(/^MD00000001,delivered,2026-01-01T00:00:00Z,900,\d+(\.\d{1,4})?,kWh$/);
    expect(lines.some((l) => l.includes(',2026-01-01T00:15:00Z,'))).toBe(true);
    for (const l of lines.slice(1)) {
      expect(l).toMatch(
        /^MD\d{8},(delivered|received),\d{4}-\d\d-\d\dT\d\d:\d\d:00Z,900,\d+(\.\d{1,4})?,kWh$/,
      );
    }

    const sim = createSimulation({ meters: 8, days: 3, seed: 4, start: JAN_1_2026 });
    const topology = JSON.parse(await readFile(path.join(dir, 'topology.json'), 'utf8'));
    expect(topology).toEqual(JSON.parse(JSON.stringify(sim.fleet.topology)));
    const faults = JSON.parse(await readFile(path.join(dir, 'faults.json'), 'utf8'));
    expect(faults).toEqual(JSON.parse(JSON.stringify(sim.report())));
    expect(faults.rates).toEqual(DEFAULT_FAULT_RATES);

    const again = path.join(dir, 'again');
    await runSimulate({ ...opts, out: again }, { progress: false });
    for (const f of ['topology.json', 'readings.csv', 'faults.json']) {
      expect(await readFile(path.join(again, f), 'utf8')).toBe(
        await readFile(path.join(dir, f), 'utf8'),
      );
    }
    const summary = formatSimulateSummary(report);
    expect(summary).not.toContain('\n');
    expect(summary).toContain(`${report.rows} rows`);
  });

  it('hands topology and rows to the ingest callbacks', async () => {
    const seen: ReadingRow[] = [];
    const imported: unknown[] = [];
    const deps: SimulateDeps = {
      progress: false,
      importTopology: async (doc) => {
        imported.push(doc);
      },
      ingestRows: async (batches) => {
        for await (const batch of batches) seen.push(...batch);
        return { accepted: seen.length, unchanged: 0, changed: 0, rejected: 0 };
      },
    };
    const report = await runSimulate({ ...opts, ingest: true }, deps);
    expect(imported).toHaveLength(1);
    expect(seen).toHaveLength(report.expectedRows);
    expect(report.ingest?.accepted).toBe(seen.length);
    expect(report.files).toBeUndefined();
    await expect(runSimulate({ ...opts, ingest: true }, {})).rejects.toThrow(/ingest/);
  });

  it('parses and defaults --start', () => {
    expect(parseStart('2026-01-01')).toBe(JAN_1_2026);
    expect(parseStart('2026-01-01T05:00:00-05:00')).toBe(Date.UTC(2026, 0, 1, 10));
    expect(() => parseStart('yesterday')).toThrow(/--start/);
    expect(defaultStart(14, new Date('2026-03-20T15:30:00Z'))).toBe('2026-03-06T00:00:00Z');
  });

  it('registers the commander subcommand', async () => {
    const program = new Command().exitOverride();
    let made = 0;
    registerSimulate(program, async () => {
      made++;
      return {};
    });
    const written: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      await program.parseAsync(
        ['simulate', '--meters', '3', '--days', '1', '--seed', '9', '--start', '2026-01-01'].concat(
          ['--out', dir],
        ),
        { from: 'user' },
      );
    } finally {
      spy.mockRestore();
    }
    expect(made).toBe(0);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^simulated 3 meters x 1 days from 2026-01-01T00:00:00Z \(seed 9/);
    const csv = await readFile(path.join(dir, 'readings.csv'), 'utf8');
    expect(csv.startsWith(CSV_HEADER)).toBe(true);
    const cmd = program.commands.find((c) => c.name() === 'simulate');
    const defaults = cmd?.options.map((o) => [o.long, o.defaultValue]);
    expect(defaults).toEqual(
      expect.arrayContaining([
        ['--meters', 200],
        ['--days', 14],
        ['--seed', 1],
        ['--interval', 900],
      ]),
    );
  });
});
