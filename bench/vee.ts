/**
 * VEE: what the rules cost on the production ingest path, and how well they find faults.
 *
 * 1. The bench CSV through `meterdata ingest --wait --json` into two fresh databases, once with
 *    MD_VEE=off and once with MD_VEE=on (off first), timed like the ingest section; after each,
 *    an untimed one-line probe (a changed resend) shows whether that run really ran the rules.
 * 2. runVeeAcceptance (src/ingest/vee-acceptance.ts) on a fresh database: a fleet with the
 *    simulator's default fault rates after clean history, scored per fault type and for false
 *    positives on clean meter-days.
 * See docs/benchmark.md, "VEE".
 */
import fs from 'node:fs';
import path from 'node:path';
import { sql, type ConnectionPool } from '@databases/pg';
import { DateTime } from 'luxon';
import { runVeeAcceptance } from '../src/ingest/vee-acceptance';
import { DEFAULT_VEE_DAYS, DEFAULT_VEE_METERS, VEE_HISTORY_DAYS, type BenchOptions } from './args';
import { BENCH_AUTH } from './auth';
import { runOk } from './children';
import { CSV_HEADER, type Fleet } from './data';
import { createDatabase, dropDatabase, pool, walLsn, walSince, type Cluster } from './postgres';
import { type VeeAcceptance, type VeeIngestRun } from './report';
import { lastJsonLine, log, round } from './util';

/** the probe's conflicting resend must raise this rule when the rules run */
const PROBE_RULE = 'conflicting_duplicate';
const DAY_MS = 86_400_000;

export interface VeeEnv {
  opts: BenchOptions;
  root: string;
  tmp: string;
  logs: string;
  cluster: Cluster;
}

const bin = (root: string) => path.join(root, 'bin', 'meterdata.js');

function env(databaseUrl: string, vee: 'on' | 'off'): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
    ...BENCH_AUTH.env,
    MD_VEE: vee,
  };
  delete e.NODE_ENV;
  delete e.REDIS_URL; // the in-process queue, as in the ingest section
  return e;
}

/** The acceptance fleet: --vee-meters / --vee-days, else the defaults capped by the bench fleet. */
export function veeSize(opts: BenchOptions): { meters: number; days: number } {
  return {
    meters: opts.veeMeters ?? Math.min(DEFAULT_VEE_METERS, opts.meters),
    days: opts.veeDays ?? Math.min(DEFAULT_VEE_DAYS, opts.days),
  };
}

// ---------------------------------------------------------------------------------------------
// 1. ingest with VEE on and off

interface CliCounts {
  accepted: number;
  unchanged: number;
  changed: number;
  rejected: number;
}

/** `meterdata ingest <file> --wait --json`: its wall time and the counts of its JSON line. */
async function ingestCli(
  h: VeeEnv,
  dbUrl: string,
  vee: 'on' | 'off',
  file: string,
): Promise<{ ms: number; stderr: string; output: Record<string, unknown>; counts: CliCounts }> {
  const r = await runOk(process.execPath, [bin(h.root), 'ingest', file, '--wait', '--json'], {
    cwd: h.tmp,
    env: env(dbUrl, vee),
  });
  const output = lastJsonLine(r.stdout, 'ingest --json');
  const counts = {
    accepted: Number(output.accepted),
    unchanged: Number(output.unchanged),
    changed: Number(output.changed),
    rejected: Number(output.rejected),
  };
  return { ms: r.ms, stderr: r.stderr, output, counts };
}

/** Open exceptions per rule. */
async function exceptionsByRule(db: ConnectionPool): Promise<Record<string, number>> {
  const rows: Array<{ rule: string; n: number }> = await db.query(sql`
    SELECT rule, count(*)::int AS n FROM vee_exception WHERE status = 'open'
    GROUP BY rule ORDER BY rule`);
  return Object.fromEntries(rows.map((r) => [r.rule, r.n]));
}

const openExceptions = async (db: ConnectionPool, rule?: string): Promise<number> =>
  (
    await db.query(sql`
      SELECT count(*)::int AS n FROM vee_exception
      WHERE status = 'open' ${rule ? sql`AND rule = ${rule}` : sql``}`)
  )[0].n;

/**
 * Whether the rules ran under this MD_VEE: the first meter's delivered reading at noon of the
 * first day is sent again with another value. With the rules on that is a conflicting
 * duplicate; with them off no exception can appear. Untimed, after the counts were taken.
 */
async function probe(
  h: VeeEnv,
  db: ConnectionPool,
  dbUrl: string,
  vee: 'on' | 'off',
  fleet: Fleet,
): Promise<{ rule: string; raised: boolean }> {
  const file = path.join(h.tmp, `vee-probe-${vee}.csv`);
  const at = new Date(fleet.startMs + DAY_MS / 2).toISOString();
  // 987.654 kWh in 15 minutes is no household's reading: it differs from the stored one.
  fs.writeFileSync(
    file,
    `${CSV_HEADER}\n${fleet.serials[0]},delivered,${at},${fleet.intervalSeconds},987.654,kWh\n`,
  );
  const before = await openExceptions(db, PROBE_RULE);
  const r = await ingestCli(h, dbUrl, vee, file);
  if (r.counts.changed !== 1) {
    throw new Error(`the probe resend was not a change: ${JSON.stringify(r.output)}`);
  }
  fs.rmSync(file, { force: true });
  return { rule: PROBE_RULE, raised: (await openExceptions(db, PROBE_RULE)) > before };
}

/**
 * One timed ingest of the bench CSV into a fresh database, as the ingest section does it:
 * migrate and topology import untimed, a CHECKPOINT, then the CLI as a child process.
 */
export async function veeIngestRun(
  h: VeeEnv,
  fleet: Fleet,
  vee: 'on' | 'off',
): Promise<VeeIngestRun> {
  const database = `bench_vee_${vee}`;
  await createDatabase(h.cluster, database);
  const dbUrl = h.cluster.urlFor(database);
  const db = pool(dbUrl, 1);
  try {
    const cliEnv = env(dbUrl, vee);
    await runOk(process.execPath, [bin(h.root), 'migrate'], { cwd: h.tmp, env: cliEnv });
    await runOk(process.execPath, [bin(h.root), 'topology', 'import', fleet.topologyFile], {
      cwd: h.tmp,
      env: cliEnv,
    });
    await historyPartitions(db, h.opts);
    await db.query(sql`CHECKPOINT`);
    const wal = await walLsn(db);
    const r = await ingestCli(h, dbUrl, vee, fleet.csvFile);
    const walBytes = await walSince(db, wal);
    fs.writeFileSync(path.join(h.logs, `vee-ingest-${vee}.stderr.log`), r.stderr);
    const c = r.counts;
    if (c.accepted !== fleet.readings || c.rejected !== 0 || c.changed !== 0) {
      throw new Error(
        `MD_VEE=${vee}: ingest reports accepted=${c.accepted} changed=${c.changed} rejected=${c.rejected}, the CSV has ${fleet.readings} readings`,
      );
    }
    const byRule = await exceptionsByRule(db);
    const checked = await probe(h, db, dbUrl, vee, fleet);
    return {
      vee,
      database,
      readings: fleet.readings,
      wallMs: round(r.ms, 1),
      readingsPerSecond: Math.round(fleet.readings / (r.ms / 1000)),
      walBytes,
      counts: c,
      exceptions: Object.values(byRule).reduce((a, n) => a + n, 0),
      exceptionsByRule: byRule,
      probe: checked,
      command: `MD_VEE=${vee} meterdata ingest readings.csv --wait --json`,
      output: r.output,
    };
  } finally {
    await db.dispose();
    await dropUnlessKept(h, database);
  }
}

/**
 * With --history-months N, the month partitions of the N months before the data's first
 * month (empty), as a store that keeps years of history holds them: every statement of the
 * write path and of VEE then runs against as many months as a utility's store has.
 */
async function historyPartitions(db: ConnectionPool, opts: BenchOptions): Promise<void> {
  if (opts.historyMonths <= 0) return;
  const first = DateTime.fromISO(opts.start, { zone: 'UTC' }).startOf('month');
  const from = first.minus({ months: opts.historyMonths }).toISODate();
  const to = first.minus({ days: 1 }).toISODate();
  await db.query(sql`SELECT meterdata_ensure_reading_partitions(${from}::date, ${to}::date)`);
}

/**
 * Dropped, so the next run does not share the machine with autovacuum working through this
 * one's fresh tables (and the landing's copy of the file does not stay on disk).
 */
async function dropUnlessKept(h: VeeEnv, database: string): Promise<void> {
  try {
    if (!h.opts.keep) await dropDatabase(h.cluster, database);
    else {
      const db = pool(h.cluster.urlFor(database), 1);
      try {
        await db.query(sql`VACUUM ANALYZE`);
      } finally {
        await db.dispose();
      }
    }
  } catch (err) {
    // Not worth failing a measured run over; the cluster goes away at the end anyway.
    log(`  could not ${h.opts.keep ? 'vacuum' : 'drop'} ${database}: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// 2. fault recall and false positives

/**
 * The scored window starts at local midnight in New York, where 80 % of the simulated meters
 * are (as test/vee does): the score's days are 24-hour days from the window start, and a window
 * ending mid-way through a local day would leave its tail missing for the rules.
 */
function windowStart(start: string): number {
  const history = DateTime.fromISO(start, { zone: 'America/New_York' }).startOf('day');
  return history.plus({ days: VEE_HISTORY_DAYS }).toMillis();
}

export async function veeAcceptance(h: VeeEnv): Promise<VeeAcceptance> {
  const { meters, days } = veeSize(h.opts);
  const database = 'bench_vee_acceptance';
  await createDatabase(h.cluster, database);
  const dbUrl = h.cluster.urlFor(database);
  const db = pool(dbUrl, 2);
  try {
    await runOk(process.execPath, [bin(h.root), 'migrate'], {
      cwd: h.tmp,
      env: env(dbUrl, 'on'),
    });
    const start = windowStart(h.opts.start);
    // In this process, through the same write path as the workers (ingestRowStream → writes
    // and runVee per chunk); the time is reported for context, the rows are what is scored.
    const r = await runVeeAcceptance(db, {
      meters,
      days,
      seed: h.opts.seed,
      start,
      historyDays: VEE_HISTORY_DAYS,
    });
    const s = r.score;
    if (!s) throw new Error('runVeeAcceptance returned no score (were the rules off?)');
    return {
      meters,
      days,
      historyDays: VEE_HISTORY_DAYS,
      seed: h.opts.seed,
      windowStart: new Date(start).toISOString(),
      faultRates: 'simulator defaults (DEFAULT_FAULT_RATES)',
      rows: r.rows,
      ingestMs: round(r.ingestMs, 1),
      readingsPerSecond: Math.round(r.rows / (r.ingestMs / 1000)),
      exceptions: r.exceptions,
      byType: s.byType,
      meterDays: s.meterDays,
      faultyMeterDays: s.faultyMeterDays,
      cleanMeterDays: s.cleanMeterDays,
      falsePositiveMeterDays: s.falsePositiveMeterDays,
      falsePositiveRate: s.falsePositiveRate,
      falsePositivesByRule: s.falsePositivesByRule,
      failures: s.failures,
    };
  } finally {
    await db.dispose();
    await dropUnlessKept(h, database);
  }
}
