/**
 * `meterdata simulate`: generates a synthetic, deterministic fleet (topology + interval readings
 * with injected faults) and writes it to files (`--out DIR`) and/or ingests it (`--ingest`).
 *
 * Reproducibility: the same --meters/--days/--seed/--start/--interval always give byte-identical
 * files. Without --start the first interval is midnight UTC of (today − days), which changes
 * from day to day: pass --start for reproducible output (the summary prints the start used).
 *
 * Files written by --out DIR:
 * - topology.json: the TopologyDoc;
 * - readings.csv: `meter_serial,channel,interval_start,interval_seconds,value,unit`, grouped by
 *   meter then time (duplicates adjacent), the corrected rows of changed resends appended at the
 *   end as a head-end resend would be. Values are kWh after any CT multiplier (engineering
 *   units), with up to 4 decimals;
 * - faults.json: the fault report (rates, per-type counts and the exact faults).
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SingleBar } from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { DateTime } from 'luxon';
import type { TopologyDoc } from '../domain/topology';
import {
  allFaults,
  createSimulation,
  faultToJson,
  gridTimestampFormatter,
  type FaultRates,
  type FaultSummary,
  type ReadingRow,
} from '../domain/simulate';
import { positiveInt } from './io';

export interface IngestCounts {
  accepted: number;
  unchanged: number;
  changed: number;
  rejected: number;
}

export interface SimulateDeps {
  /** persists the topology (required for --ingest) */
  importTopology?(doc: TopologyDoc): Promise<void>;
  /** ingests the readings (required for --ingest) */
  ingestRows?(rows: AsyncIterable<ReadingRow[]>): Promise<IngestCounts>;
  /** releases whatever the deps hold (called once the run ends) */
  close?(): Promise<void>;
  /** show a progress bar on stderr; default: when stderr is a TTY */
  progress?: boolean;
}

export interface SimulateOptions {
  meters: number;
  days: number;
  seed: number;
  /** first interval: ISO 8601 date (midnight UTC) or instant; default midnight UTC of today − days */
  start?: string;
  out?: string;
  ingest?: boolean;
  intervalSeconds?: number;
  /** fault rates (defaults: DEFAULT_FAULT_RATES) */
  faultRates?: Partial<FaultRates>;
}

export interface SimulateReport {
  meters: number;
  days: number;
  seed: number;
  /** first interval start, ISO 8601 UTC (pass as --start to reproduce) */
  start: string;
  intervalSeconds: number;
  transformers: number;
  /** rows generated (= expectedRows when the whole output was consumed) */
  rows: number;
  expectedRows: number;
  faults: FaultSummary;
  faultRates: FaultRates;
  files?: { topology: string; readings: string; faults: string };
  ingest?: IngestCounts;
  elapsedMs: number;
  rowsPerSecond: number;
}

export const CSV_HEADER = 'meter_serial,channel,interval_start,interval_seconds,value,unit\n';

const DAY_MS = 86_400_000;

/** Midnight UTC of (now − days), ISO 8601. Changes daily: not reproducible. */
export function defaultStart(days: number, now: Date = new Date()): string {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return new Date(midnight - days * DAY_MS).toISOString().replace('.000Z', 'Z');
}

/** Parses --start: a date (midnight UTC) or an instant (UTC unless it carries an offset). */
export function parseStart(value: string): number {
  const dt = DateTime.fromISO(value.trim(), { zone: 'utc' });
  if (!dt.isValid)
    throw new Error(`invalid --start '${value}': expected an ISO 8601 date or instant`);
  return dt.toMillis();
}

/** A writer that respects backpressure and surfaces stream errors. */
class StreamWriter {
  private failure: Error | null = null;
  constructor(private readonly stream: WriteStream) {
    stream.on('error', (err) => {
      this.failure = err;
    });
  }
  async write(chunk: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
    if (this.failure) throw this.failure;
  }
  async end(): Promise<void> {
    if (this.failure) throw this.failure;
    this.stream.end();
    await once(this.stream, 'finish');
    if (this.failure) throw this.failure;
  }
  destroy(): void {
    this.stream.destroy();
  }
}

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function runSimulate(
  opts: SimulateOptions,
  deps: SimulateDeps,
): Promise<SimulateReport> {
  const started = Date.now();
  if (opts.ingest && (!deps.importTopology || !deps.ingestRows)) {
    throw new Error('--ingest needs the storage callbacks importTopology and ingestRows');
  }
  const startIso = opts.start ?? defaultStart(opts.days);
  const sim = createSimulation({
    meters: opts.meters,
    days: opts.days,
    seed: opts.seed,
    start: parseStart(startIso),
    intervalSeconds: opts.intervalSeconds ?? 900,
    faultRates: opts.faultRates,
  });
  const header = sim.reportHeader();
  const fmt = gridTimestampFormatter(sim.grid);

  let files: SimulateReport['files'];
  let csv: StreamWriter | null = null;
  if (opts.out) {
    const dir = path.resolve(opts.out);
    await mkdir(dir, { recursive: true });
    files = {
      topology: path.join(dir, 'topology.json'),
      readings: path.join(dir, 'readings.csv'),
      faults: path.join(dir, 'faults.json'),
    };
    await writeFile(files.topology, JSON.stringify(sim.fleet.topology, null, 2) + '\n');
    csv = new StreamWriter(createWriteStream(files.readings, { highWaterMark: 1 << 20 }));
  }

  const showProgress = deps.progress ?? Boolean(process.stderr.isTTY);
  const bar = showProgress
    ? new SingleBar({
        stream: process.stderr,
        format:
          'simulate |{bar}| {percentage}% | {value}/{total} meters | {rows} rows | ETA {eta}s',
        hideCursor: true,
        clearOnComplete: true,
      })
    : null;

  let rows = 0;
  async function* source(): AsyncGenerator<ReadingRow[]> {
    if (csv) await csv.write(CSV_HEADER);
    const batches = sim.batches({ onMeter: (done) => bar?.update(done, { rows }) });
    for (const batch of batches) {
      rows += batch.length;
      if (csv) {
        let chunk = '';
        for (const r of batch) {
          chunk +=
            r.meterSerial +
            ',' +
            r.channel +
            ',' +
            fmt(r.intervalStart) +
            ',' +
            r.intervalSeconds +
            ',' +
            r.value +
            ',' +
            r.unit +
            '\n';
        }
        await csv.write(chunk);
      } else {
        await nextTick(); // let the progress bar redraw
      }
      yield batch;
    }
  }

  let ingest: IngestCounts | undefined;
  bar?.start(sim.fleet.meters.length, 0, { rows: 0 });
  try {
    if (opts.ingest && deps.importTopology && deps.ingestRows) {
      await deps.importTopology(sim.fleet.topology);
      ingest = await deps.ingestRows(source());
    } else {
      for await (const batch of source()) void batch;
    }
    if (csv) await csv.end();
  } catch (err) {
    csv?.destroy();
    throw err;
  } finally {
    bar?.stop();
  }

  if (files) {
    const faults = new StreamWriter(createWriteStream(files.faults, { highWaterMark: 1 << 20 }));
    try {
      const head = JSON.stringify(header, null, 2);
      await faults.write(head.slice(0, head.lastIndexOf('}')).trimEnd() + ',\n  "faults": [');
      let first = true;
      let chunk = '';
      for (const f of allFaults(sim.plan)) {
        chunk += (first ? '\n    ' : ',\n    ') + JSON.stringify(faultToJson(f, sim.grid, fmt));
        first = false;
        if (chunk.length > 1 << 16) {
          await faults.write(chunk);
          chunk = '';
        }
      }
      await faults.write(chunk + (first ? ']\n}\n' : '\n  ]\n}\n'));
      await faults.end();
    } catch (err) {
      faults.destroy();
      throw err;
    }
  }

  const elapsedMs = Date.now() - started;
  return {
    meters: header.meters,
    days: header.days,
    seed: header.seed,
    start: header.start,
    intervalSeconds: header.intervalSeconds,
    transformers: sim.fleet.transformers.length,
    rows,
    expectedRows: header.expectedRows,
    faults: header.summary,
    faultRates: header.rates,
    files,
    ingest,
    elapsedMs,
    rowsPerSecond: Math.round(rows / Math.max(elapsedMs / 1000, 0.001)),
  };
}

/** The one-line summary printed on stdout. */
export function formatSimulateSummary(r: SimulateReport): string {
  const f = r.faults;
  const total = Object.values(f).reduce((sum, s) => sum + s.count, 0);
  const where = r.files ? ` -> ${path.dirname(r.files.readings)}` : '';
  const ingest = r.ingest
    ? `; ingested: ${r.ingest.accepted} accepted, ${r.ingest.unchanged} unchanged, ` +
      `${r.ingest.changed} changed, ${r.ingest.rejected} rejected`
    : '';
  return (
    `simulated ${r.meters} meters x ${r.days} days from ${r.start} (seed ${r.seed}, ` +
    `${r.intervalSeconds} s): ${r.rows} rows, ${total} faults (${f.gap.count} gaps, ` +
    `${f.spike.count} spikes, ${f.zeroRun.count} zero runs, ${f.duplicate.count} duplicates, ` +
    `${f.changedResend.count} changed resends, ${f.outage.count} outages)${where}${ingest} ` +
    `in ${(r.elapsedMs / 1000).toFixed(1)} s (${r.rowsPerSecond} rows/s)`
  );
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
}

interface SimulateCliOptions {
  meters: number;
  days: number;
  seed: number;
  start?: string;
  interval: number;
  out?: string;
  ingest?: boolean;
}

/**
 * Adds `simulate`. `makeDeps` is only called with --ingest (so --out needs no database).
 */
export function registerSimulate(program: Command, makeDeps: () => Promise<SimulateDeps>): Command {
  return program
    .command('simulate')
    .description(
      'generate a deterministic synthetic fleet: topology and interval readings with injected faults',
    )
    .option('--meters <n>', 'number of meters', positiveInt, 200)
    .option('--days <n>', 'number of days', positiveInt, 14)
    .option('--seed <n>', 'random seed (same options and seed give identical output)', integer, 1)
    .option(
      '--start <date>',
      'first interval, ISO 8601 date (midnight UTC) or instant; default midnight UTC of ' +
        '(today - days): give it explicitly for reproducible output',
    )
    .option('--interval <seconds>', 'interval length in seconds', positiveInt, 900)
    .option('--out <dir>', 'write topology.json, readings.csv and faults.json into this directory')
    .option('--ingest', 'import the topology and ingest the readings into the database')
    .action(async (o: SimulateCliOptions) => {
      const deps: SimulateDeps = o.ingest ? await makeDeps() : {};
      try {
        const report = await runSimulate(
          {
            meters: o.meters,
            days: o.days,
            seed: o.seed,
            start: o.start,
            out: o.out,
            ingest: o.ingest,
            intervalSeconds: o.interval,
          },
          deps,
        );
        process.stdout.write(formatSimulateSummary(report) + '\n');
      } finally {
        await deps.close?.();
      }
    });
}
