/**
 * The zero-setup demo: on an empty database, `serve --demo` loads a simulated fleet through
 * the same path as `simulate --ingest`, then points at real serials and codes to try.
 */
import { DateTime } from 'luxon';
import { type TopologyDoc } from '../domain/topology';
import { type ReadingRow } from '../domain/simulate';
import { DAY_MS } from '../domain/readings';
import { importTopology } from '../ingest/topology';
import { ingestRowStream } from '../ingest/rows';
import { type Runtime } from '../runtime';
import { readDays } from '../storage/readings';
import { countMeters, listMeters, transformersByIds } from '../storage/topology';
import { type IngestCounts, runSimulate, type SimulateDeps, type SimulateReport } from './simulate';

export const DEMO_FLEET = { meters: 300, days: 14, seed: 42 } as const;

/** Storage callbacks of the simulator, bound to an open runtime. */
export function simulateDeps(
  rt: Runtime,
  opts: { progress?: boolean; signal?: AbortSignal } = {},
): SimulateDeps {
  return {
    progress: opts.progress,
    async importTopology(doc: TopologyDoc): Promise<void> {
      await importTopology(rt.db.pool, doc);
    },
    async ingestRows(rows: AsyncIterable<ReadingRow[]>): Promise<IngestCounts> {
      const r = await ingestRowStream(rt.db.pool, abortable(rows, opts.signal), {
        source: 'simulate',
        format: 'simulated',
        clockToleranceSeconds: rt.config.clockToleranceSeconds,
      });
      rt.logger.info({ batchId: r.batchId, accepted: r.accepted }, 'simulated readings ingested');
      return r;
    },
  };
}

async function* abortable<T>(src: AsyncIterable<T>, signal: AbortSignal | undefined) {
  for await (const x of src) {
    signal?.throwIfAborted();
    yield x;
  }
}

/** Midnight UTC `days` days before the most recent UTC midnight (so the data ends there). */
export function demoStart(days: number, now = Date.now()): string {
  const midnight = Math.floor(now / DAY_MS) * DAY_MS;
  return new Date(midnight - days * DAY_MS).toISOString().replace('.000Z', 'Z');
}

/** Loads the demo fleet when the database has no meters; returns the simulator's report. */
export async function loadDemoIfEmpty(
  rt: Runtime,
  opts: {
    progress?: boolean;
    signal?: AbortSignal;
    fleet?: { meters: number; days: number; seed: number };
  } = {},
): Promise<SimulateReport | null> {
  if ((await countMeters(rt.db.pool)) > 0) return null;
  const fleet = opts.fleet ?? DEMO_FLEET;
  return runSimulate(
    { ...fleet, start: demoStart(fleet.days), ingest: true },
    simulateDeps(rt, { progress: opts.progress, signal: opts.signal }),
  );
}

export interface DemoPointers {
  serial: string;
  /** a UTC day (YYYY-MM-DD) the meter has readings for */
  day: string;
  transformer: string;
  /** the day after `day` */
  nextDay: string;
  /** the meter's local midnights starting and ending the week that ends with `day` */
  localWeek: { from: string; to: string };
}

/** A real meter, one of its days with data, and its transformer; null on an empty database. */
export async function demoPointers(rt: Runtime): Promise<DemoPointers | null> {
  const { meters } = await listMeters(rt.db.pool, {}, 1, null);
  const meter = meters[0];
  if (!meter) return null;
  const [tx] = await transformersByIds(rt.db.pool, [meter.transformerId]);
  const today = Math.floor(Date.now() / DAY_MS);
  const days = await readDays(rt.db.pool, meter.id, 1, today - 60, today);
  // The last complete day with data, else yesterday.
  const withData = days.filter((d) => d.vals.some((v) => v !== null)).map((d) => d.day);
  const day = withData.length > 1 ? withData[withData.length - 2]! : (withData[0] ?? today - 1);
  const date = (d: number) => new Date(d * DAY_MS).toISOString().slice(0, 10);
  const localMidnight = (d: number) =>
    DateTime.fromISO(date(d), { zone: meter.timeZone }).toISO({ suppressMilliseconds: true })!;
  return {
    serial: meter.serial,
    day: date(day),
    nextDay: date(day + 1),
    localWeek: { from: localMidnight(day - 6), to: localMidnight(day + 1) },
    transformer: tx?.code ?? '',
  };
}
