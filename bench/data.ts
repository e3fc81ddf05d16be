/**
 * The benchmark fleet: topology.json and readings.csv in the format of `meterdata simulate`,
 * written from the simulator's pure API with every fault rate at zero. Duplicates and changed
 * resends would break the naive table's primary key, and both sides must load the same file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import {
  createSimulation,
  gridTimestampFormatter,
  NO_FAULTS,
  type Simulation,
} from '../src/domain/simulate';
import { log } from './util';

export const CSV_HEADER = 'meter_serial,channel,interval_start,interval_seconds,value,unit';

export interface Fleet {
  dir: string;
  topologyFile: string;
  csvFile: string;
  csvBytes: number;
  /** data rows of the CSV (= readings: no faults, so no duplicates) */
  readings: number;
  /** of which on the delivered channel */
  deliveredReadings: number;
  meters: number;
  days: number;
  intervalSeconds: number;
  /** epoch ms of the first interval */
  startMs: number;
  serials: string[];
  transformers: Array<{ code: string; serials: string[] }>;
  generateMs: number;
}

export async function writeFleet(
  dir: string,
  opts: { meters: number; days: number; seed: number; start: string },
): Promise<Fleet> {
  const started = Date.now();
  const startMs = Date.parse(`${opts.start}T00:00:00Z`);
  const sim: Simulation = createSimulation({
    meters: opts.meters,
    days: opts.days,
    seed: opts.seed,
    start: startMs,
    faultRates: NO_FAULTS,
  });
  fs.mkdirSync(dir, { recursive: true });
  const topologyFile = path.join(dir, 'topology.json');
  fs.writeFileSync(topologyFile, JSON.stringify(sim.fleet.topology));

  const csvFile = path.join(dir, 'readings.csv');
  const out = fs.createWriteStream(csvFile, { highWaterMark: 1 << 20 });
  const ts = gridTimestampFormatter(sim.grid);
  let readings = 0;
  let delivered = 0;
  let lastLog = Date.now();
  out.write(CSV_HEADER + '\n');
  for (const batch of sim.batches({ batchSize: 20_000 })) {
    let chunk = '';
    for (const r of batch) {
      chunk += `${r.meterSerial},${r.channel},${ts(r.intervalStart)},${r.intervalSeconds},${r.value},${r.unit}\n`;
      if (r.channel === 'delivered') delivered++;
    }
    readings += batch.length;
    if (!out.write(chunk)) await once(out, 'drain');
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log(`  … ${readings.toLocaleString('en-US')} readings written`);
    }
  }
  out.end();
  await once(out, 'finish');
  if (readings !== sim.plan.cleanRows) {
    throw new Error(`simulator wrote ${readings} rows, expected ${sim.plan.cleanRows} (faults?)`);
  }
  return {
    dir,
    topologyFile,
    csvFile,
    csvBytes: fs.statSync(csvFile).size,
    readings,
    deliveredReadings: delivered,
    meters: sim.fleet.meters.length,
    days: opts.days,
    intervalSeconds: sim.grid.intervalSeconds,
    startMs,
    serials: sim.fleet.meters.map((m) => m.serial),
    transformers: sim.fleet.transformers.map((t) => ({
      code: t.code,
      serials: t.meterIndexes.map((i) => sim.fleet.meters[i]!.serial),
    })),
    generateMs: Date.now() - started,
  };
}
