/**
 * VEE acceptance on the simulator's faults: a simulated fleet (four weeks of clean history, then
 * the window with the default fault rates) goes through the real write path (ingestRowStream →
 * writePatches + runVee per chunk), and the stored exceptions are scored against the fault report
 * (recall per fault type, false positives per clean meter-day). Used by the tests and usable by
 * the benchmark (pass `vee: false` to time the same ingest without the rules).
 */
import { sql, type ConnectionPool } from '@databases/pg';
import { channelFromCode } from '../domain/channel';
import { DAY_MS } from '../domain/readings';
import { createSimulation, NO_FAULTS, type FaultRates } from '../domain/simulate';
import {
  scoreFaultDetection,
  type FaultDetectionScore,
  type LocatedFailure,
  type RuleId,
  type Severity,
} from '../domain/vee';
import { upsertTopology } from '../storage/topology';
import { ingestRowStream } from './rows';

export interface VeeAcceptanceOptions {
  meters: number;
  days: number;
  seed: number;
  /** epoch ms of the window's first interval */
  start: number;
  historyDays?: number;
  faultRates?: Partial<FaultRates>;
  /** rows per write (default: the stream default, 20,000) */
  chunkRows?: number;
  /** run the rules on the write path (default true) */
  vee?: boolean;
}

export interface VeeAcceptanceResult {
  score: FaultDetectionScore | null;
  rows: number;
  /** time spent ingesting the window (history excluded), ms */
  ingestMs: number;
  exceptions: number;
}

export async function runVeeAcceptance(
  pool: ConnectionPool,
  opts: VeeAcceptanceOptions,
): Promise<VeeAcceptanceResult> {
  const historyDays = opts.historyDays ?? 28;
  const sim = createSimulation({
    meters: opts.meters,
    days: opts.days,
    seed: opts.seed,
    start: opts.start,
    faultRates: opts.faultRates,
  });
  const past = createSimulation({
    meters: opts.meters,
    days: historyDays,
    seed: opts.seed,
    start: opts.start - historyDays * DAY_MS,
    faultRates: NO_FAULTS,
  });
  await upsertTopology(pool, sim.fleet.topology);
  const now = opts.start + (opts.days + 1) * DAY_MS;
  const common = { format: 'simulated', now, vee: opts.vee, chunkRows: opts.chunkRows };
  await ingestRowStream(pool, past.batches(), { ...common, source: 'acceptance-history' });
  const t0 = performance.now();
  const r = await ingestRowStream(pool, sim.batches(), { ...common, source: 'acceptance' });
  const ingestMs = performance.now() - t0;
  const rows = r.accepted + r.unchanged + r.changed + r.rejected;
  if (opts.vee === false) return { score: null, rows, ingestMs, exceptions: 0 };
  const stored: Array<Record<string, unknown>> = await pool.query(sql`
    SELECT m.serial, e.channel, e.rule, e.severity, e.detail,
           (extract(epoch FROM e.from_ts) * 1000)::float8 AS f,
           (extract(epoch FROM e.to_ts) * 1000)::float8 AS t
    FROM vee_exception e JOIN meter m ON m.id = e.meter_id
    WHERE e.status = 'open'`);
  const failures: LocatedFailure[] = stored.map((e) => ({
    meterSerial: e.serial as string,
    channel: channelFromCode(Number(e.channel)),
    rule: e.rule as RuleId,
    severity: e.severity as Severity,
    from: Number(e.f),
    to: Number(e.t),
    intervals: [],
    detail: e.detail as string,
  }));
  return {
    score: scoreFaultDetection(sim.report(), failures),
    rows,
    ingestMs,
    exceptions: failures.length,
  };
}
