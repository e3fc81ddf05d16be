/**
 * The zero-setup demo: on an empty database, `serve --demo` loads a simulated fleet through
 * the same path as `simulate --ingest`, then points at real serials and codes to try.
 */
import { DateTime } from 'luxon';
import { type TopologyDoc } from '../domain/topology';
import { type ReadingRow } from '../domain/simulate';
import { DAY_MS, isMissing } from '../domain/readings';
import { importTopology } from '../ingest/topology';
import { ingestRowStream } from '../ingest/rows';
import { type Runtime } from '../runtime';
import { readDays } from '../storage/readings';
import { countMeters, listMeters, transformersByIds } from '../storage/topology';
import { type IngestCounts, runSimulate, type SimulateDeps, type SimulateReport } from './simulate';

/**
 * A fixed window, so the README's operations give the same answers everywhere: 14 days from
 * 1 March 2026, which include the US spring-forward day (8 March).
 */
export const DEMO_FLEET = {
  meters: 300,
  days: 14,
  seed: 42,
  start: '2026-03-01T00:00:00Z',
} as const;

export interface DemoFleet {
  meters: number;
  days: number;
  seed: number;
  /** the first interval start, ISO 8601 UTC */
  start: string;
}

/** The days the printed example operations use (within DEMO_FLEET's window). */
const DEMO_DAY = '2026-03-02';
/** seven local days around the spring-forward day, which has 92 quarter hours */
const DEMO_WEEK = { from: '2026-03-04', to: '2026-03-11' };

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

/** Loads the demo fleet when the database has no meters; returns the simulator's report. */
export async function loadDemoIfEmpty(
  rt: Runtime,
  opts: {
    progress?: boolean;
    signal?: AbortSignal;
    fleet?: DemoFleet;
  } = {},
): Promise<SimulateReport | null> {
  if ((await countMeters(rt.db.pool)) > 0) return null;
  const fleet = opts.fleet ?? DEMO_FLEET;
  return runSimulate(
    { meters: fleet.meters, days: fleet.days, seed: fleet.seed, start: fleet.start, ingest: true },
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
  /** the meter's local midnights starting and ending a week of local days */
  localWeek: { from: string; to: string };
}

/**
 * A real meter, one of its days with data, and its transformer; null on an empty database.
 * On the demo fleet these are fixed days of its window; on other data, the last complete day
 * with readings and the week that ends with it.
 */
export async function demoPointers(rt: Runtime): Promise<DemoPointers | null> {
  const { meters } = await listMeters(rt.db.pool, {}, 1, null);
  const meter = meters[0];
  if (!meter) return null;
  const [tx] = await transformersByIds(rt.db.pool, [meter.transformerId]);
  const epochDay = (iso: string) => Date.parse(`${iso}T00:00:00Z`) / DAY_MS;
  const date = (d: number) => new Date(d * DAY_MS).toISOString().slice(0, 10);
  const localMidnight = (d: number) =>
    DateTime.fromISO(date(d), { zone: meter.timeZone }).toISO({ suppressMilliseconds: true })!;
  const hasData = (days: Array<{ vals: Float64Array }>) =>
    days.some((d) => d.vals.some((v) => !isMissing(v)));
  let day = epochDay(DEMO_DAY);
  let week = { from: epochDay(DEMO_WEEK.from), to: epochDay(DEMO_WEEK.to) };
  if (!hasData(await readDays(rt.db.pool, meter.id, 1, day, day))) {
    const today = Math.floor(Date.now() / DAY_MS);
    const days = await readDays(rt.db.pool, meter.id, 1, today - 60, today);
    // The last complete day with data, else yesterday.
    const withData = days.filter((d) => hasData([d])).map((d) => d.day);
    day = withData.length > 1 ? withData[withData.length - 2]! : (withData[0] ?? today - 1);
    week = { from: day - 6, to: day + 1 };
  }
  return {
    serial: meter.serial,
    day: date(day),
    nextDay: date(day + 1),
    localWeek: { from: localMidnight(week.from), to: localMidnight(week.to) },
    transformer: tx?.code ?? '',
  };
}
