/**
 * The benchmark fleet: topology.json and readings.csv in the format of `meterdata simulate`,
 * written from the simulator's pure API with every fault rate at zero (and, for the head-end
 * section, the same readings as CMEP and ESPI files: formats.ts). Duplicates and changed
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
import { CmepWriter, EspiWriter } from './formats';
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

/** A head-end file written from the same fleet (see formats.ts). */
export interface FormatFile {
  file: string;
  bytes: number;
  /** readings the file holds (CMEP: the delivered channel only) */
  readings: number;
}

export interface FleetFiles {
  cmep?: FormatFile;
  espi?: FormatFile;
}

/** A write stream that honours back-pressure; `bytes` counts what was written. */
class Sink {
  private readonly out: fs.WriteStream;
  bytes = 0;
  constructor(readonly file: string) {
    this.out = fs.createWriteStream(file, { highWaterMark: 1 << 20 });
  }
  async write(text: string): Promise<void> {
    if (!text) return;
    this.bytes += Buffer.byteLength(text);
    if (!this.out.write(text)) await once(this.out, 'drain');
  }
  async close(): Promise<void> {
    this.out.end();
    await once(this.out, 'finish');
  }
}

/** The fault-free simulation of a fleet, with its topology written to `dir/topology.json`. */
function simulateFleet(
  dir: string,
  opts: { meters: number; days: number; seed: number; start: string },
): { sim: Simulation; topologyFile: string } {
  const sim = createSimulation({
    meters: opts.meters,
    days: opts.days,
    seed: opts.seed,
    start: Date.parse(`${opts.start}T00:00:00Z`),
    faultRates: NO_FAULTS,
  });
  fs.mkdirSync(dir, { recursive: true });
  const topologyFile = path.join(dir, 'topology.json');
  fs.writeFileSync(topologyFile, JSON.stringify(sim.fleet.topology));
  return { sim, topologyFile };
}

export async function writeFleet(
  dir: string,
  opts: { meters: number; days: number; seed: number; start: string },
  formats: { cmep?: boolean; espi?: boolean } = {},
): Promise<Fleet & { files: FleetFiles }> {
  const started = Date.now();
  const startMs = Date.parse(`${opts.start}T00:00:00Z`);
  const { sim, topologyFile } = simulateFleet(dir, opts);

  const csvFile = path.join(dir, 'readings.csv');
  const csv = new Sink(csvFile);
  const extra: Array<{ name: keyof FleetFiles; sink: Sink; writer: CmepWriter | EspiWriter }> = [];
  if (formats.cmep) {
    extra.push({
      name: 'cmep',
      sink: new Sink(path.join(dir, 'readings.cmep')),
      writer: new CmepWriter(startMs, sim.grid.intervalSeconds, startMs + opts.days * 86_400_000),
    });
  }
  if (formats.espi) {
    extra.push({
      name: 'espi',
      sink: new Sink(path.join(dir, 'readings.espi.xml')),
      writer: new EspiWriter(startMs, sim.grid.intervalSeconds),
    });
  }
  const ts = gridTimestampFormatter(sim.grid);
  let readings = 0;
  let delivered = 0;
  let lastLog = Date.now();
  await csv.write(CSV_HEADER + '\n');
  for (const e of extra) await e.sink.write(e.writer.header());
  // Meter by meter: the same rows, in the same order, as sim.batches() (no faults: no resends).
  for (let m = 0; m < sim.fleet.meters.length; m++) {
    const { rows, resends } = sim.meterRows(m);
    if (resends.length) throw new Error(`meter #${m} has changed resends (faults?)`);
    for (let i = 0; i < rows.length; i += 20_000) {
      let chunk = '';
      for (const r of rows.slice(i, i + 20_000)) {
        chunk += `${r.meterSerial},${r.channel},${ts(r.intervalStart)},${r.intervalSeconds},${r.value},${r.unit}\n`;
        if (r.channel === 'delivered') delivered++;
      }
      await csv.write(chunk);
    }
    readings += rows.length;
    for (const e of extra) await e.sink.write(e.writer.meter(rows));
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log(`  … ${readings.toLocaleString('en-US')} readings written`);
    }
  }
  for (const e of extra) await e.sink.write(e.writer.footer());
  await csv.close();
  const files: FleetFiles = {};
  for (const e of extra) {
    await e.sink.close();
    files[e.name] = { file: e.sink.file, bytes: e.sink.bytes, readings: e.writer.readings };
  }
  if (readings !== sim.plan.cleanRows) {
    throw new Error(`simulator wrote ${readings} rows, expected ${sim.plan.cleanRows} (faults?)`);
  }
  return {
    dir,
    topologyFile,
    csvFile,
    csvBytes: csv.bytes,
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
    files,
  };
}

/**
 * A readings CSV of at least `minBytes` from a fault-free fleet of the same days and seed:
 * meters are written until the file is large enough (the fleet is sized from `bytesPerMeter`
 * with a margin; meters past the last one written stay in the topology, unused).
 */
export async function writeLargeCsv(
  dir: string,
  opts: { days: number; seed: number; start: string },
  minBytes: number,
  bytesPerMeter: number,
): Promise<{
  topologyFile: string;
  csvFile: string;
  bytes: number;
  readings: number;
  meters: number;
}> {
  const meters = Math.ceil((minBytes / bytesPerMeter) * 1.1) + 10;
  const { sim, topologyFile } = simulateFleet(dir, { ...opts, meters });
  const csvFile = path.join(dir, 'large.csv');
  const csv = new Sink(csvFile);
  const ts = gridTimestampFormatter(sim.grid);
  await csv.write(CSV_HEADER + '\n');
  let readings = 0;
  let m = 0;
  let lastLog = Date.now();
  for (; m < sim.fleet.meters.length && csv.bytes < minBytes; m++) {
    const { rows, resends } = sim.meterRows(m);
    if (resends.length) throw new Error(`meter #${m} has changed resends (faults?)`);
    for (let i = 0; i < rows.length; i += 20_000) {
      let chunk = '';
      for (const r of rows.slice(i, i + 20_000)) {
        chunk += `${r.meterSerial},${r.channel},${ts(r.intervalStart)},${r.intervalSeconds},${r.value},${r.unit}\n`;
      }
      await csv.write(chunk);
    }
    readings += rows.length;
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      log(`  … ${(csv.bytes / 2 ** 20).toFixed(0)} MiB written`);
    }
  }
  await csv.close();
  if (csv.bytes < minBytes) {
    throw new Error(`${meters} meters gave only ${csv.bytes} bytes, less than ${minBytes}`);
  }
  return { topologyFile, csvFile, bytes: csv.bytes, readings, meters: m };
}
