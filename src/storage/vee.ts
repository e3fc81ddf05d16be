/**
 * SQL of VEE: versioned rule sets per meter class, the rule run over stored day rows (flags into
 * reading_day.vee_flags, failures into vee_exception), and exception queries. The rules
 * themselves are the pure core in ../domain/vee.
 */
import {
  sql,
  type ConnectionPool,
  type Queryable,
  type SQLQuery,
  type Transaction,
} from '@databases/pg';
import { type Channel, channelFromCode, Quality } from '../domain/channel';
import { DAY_MS, type DayPatch, type DayRow, dayKey } from '../domain/readings';
import { buildPackedSeries } from '../domain/series';
import {
  DEFAULT_RULE_SETS,
  runRules,
  validateRuleSet,
  type MeterClass,
  type RuleFailure,
  type RuleSet,
} from '../domain/vee';
import { localDays } from '../domain/vee/calendar';
import { ErrorCode, MeterdataError } from '../errors';
import {
  decodeDayRow,
  type DayRowRecord,
  epochDayToDate,
  intArrayLiteral,
  numberArrayLiteral,
  textArrayLiteral,
} from './codec';
import { withinDays, writePatches, type WriteCounts } from './readings';
import { type MeterRecord, metersByIds } from './topology';

export const METER_CLASSES: readonly MeterClass[] = ['RESIDENTIAL', 'COMMERCIAL', 'INDUSTRIAL'];
/** Days of stored history before a window that the rules learn from. */
export const VEE_HISTORY_DAYS = 28;

// ---------------------------------------------------------------------------------------------
// Rule sets

export interface StoredRuleSet {
  ruleSet: RuleSet;
  createdBy: string | null;
  createdAt: Date;
}

function parseStored(cls: MeterClass, version: number, json: unknown): RuleSet {
  return validateRuleSet({ ...(json as object), meterClass: cls, version });
}

/** The current (highest) version per class; classes never stored are seeded with the defaults. */
export async function currentRuleSets(db: Queryable): Promise<Record<MeterClass, StoredRuleSet>> {
  const select = async () =>
    (await db.query(sql`
      SELECT DISTINCT ON (meter_class) meter_class, version, rule_set, created_by, created_at
      FROM vee_rule_set ORDER BY meter_class, version DESC`)) as Array<{
      meter_class: MeterClass;
      version: number;
      rule_set: unknown;
      created_by: string | null;
      created_at: Date;
    }>;
  let rows = await select();
  if (rows.length < METER_CLASSES.length) {
    const defaults = METER_CLASSES.map((c) => DEFAULT_RULE_SETS[c]);
    await db.query(sql`
      INSERT INTO vee_rule_set (meter_class, version, rule_set, created_by)
      SELECT c, 1, r::jsonb, 'default'
      FROM unnest(${defaults.map((d) => d.meterClass)}::text[], ${defaults.map((d) => JSON.stringify(d))}::text[]) AS t(c, r)
      WHERE NOT EXISTS (SELECT 1 FROM vee_rule_set s WHERE s.meter_class = t.c)
      ON CONFLICT DO NOTHING`);
    rows = await select();
  }
  const out = {} as Record<MeterClass, StoredRuleSet>;
  for (const r of rows) {
    out[r.meter_class] = {
      ruleSet: parseStored(r.meter_class, r.version, r.rule_set),
      createdBy: r.created_by,
      createdAt: r.created_at,
    };
  }
  return out;
}

/** Validates `json` (BAD_USER_INPUT with every problem) and stores it as the class's next version. */
export async function updateRuleSet(
  pool: ConnectionPool,
  meterClass: MeterClass,
  json: Record<string, unknown>,
  user: string | null,
): Promise<StoredRuleSet> {
  const current = (await currentRuleSets(pool))[meterClass];
  const version = current.ruleSet.version + 1;
  const ruleSet = validateRuleSet({
    name: current.ruleSet.name,
    ...json,
    meterClass,
    version,
  });
  const [row] = await pool.query(sql`
    INSERT INTO vee_rule_set (meter_class, version, rule_set, created_by)
    VALUES (${meterClass}, ${version}, ${JSON.stringify(ruleSet)}::jsonb, ${user})
    RETURNING created_at`);
  ruleSetCache.delete(pool);
  return { ruleSet, createdBy: user, createdAt: row.created_at as Date };
}

const ruleSetCache = new WeakMap<
  ConnectionPool,
  { at: number; sets: Promise<Record<MeterClass, RuleSet>> }
>();
const RULE_SET_TTL_MS = 5000;

/** Current rule sets, cached per pool for a few seconds (workers read them on every chunk). */
export function cachedRuleSets(pool: ConnectionPool): Promise<Record<MeterClass, RuleSet>> {
  const hit = ruleSetCache.get(pool);
  if (hit && Date.now() - hit.at < RULE_SET_TTL_MS) return hit.sets;
  const sets = currentRuleSets(pool).then(
    (s) =>
      Object.fromEntries(Object.entries(s).map(([c, v]) => [c, v.ruleSet])) as Record<
        MeterClass,
        RuleSet
      >,
  );
  ruleSetCache.set(pool, { at: Date.now(), sets });
  sets.catch(() => ruleSetCache.delete(pool));
  return sets;
}

// ---------------------------------------------------------------------------------------------
// Running the rules over stored days

export interface VeeMeter {
  id: number;
  serial: string;
  intervalSeconds: number;
  installedAt: number;
  removedAt: number | null;
  multiplier: number;
  channels: Channel[];
  timeZone: string;
  meterClass: MeterClass;
}

export async function veeMeters(
  db: Queryable,
  ids: readonly number[],
): Promise<Map<number, VeeMeter>> {
  const out = new Map<number, VeeMeter>();
  for (const m of await metersByIds(db, [...new Set(ids)])) out.set(m.id, veeMeterOf(m));
  return out;
}

/** The VEE view of a meter as the topology reads it. */
export function veeMeterOf(m: MeterRecord): VeeMeter {
  return {
    id: m.id,
    serial: m.serial,
    intervalSeconds: m.intervalSeconds,
    installedAt: m.installedAt.getTime(),
    removedAt: m.removedAt ? m.removedAt.getTime() : null,
    multiplier: m.multiplier,
    channels: m.channels,
    timeZone: m.timeZone,
    meterClass: m.meterClass,
  };
}

/**
 * The VEE view of meters, remembered for the life of one ingest (a file in a worker, a batch),
 * as the meters of its readings are: a chunk then costs no meter look-up of its own. The
 * ingest's meter resolver puts in the meters it looks up (`prime`), so a chunk's new meters
 * are read once, for both.
 */
export class VeeMeterCache {
  private readonly known = new Map<number, VeeMeter>();

  constructor(private readonly maxMeters = 100_000) {}

  prime(m: VeeMeter): void {
    if (this.known.size >= this.maxMeters) this.known.clear();
    this.known.set(m.id, m);
  }

  async get(db: Queryable, ids: readonly number[]): Promise<Map<number, VeeMeter>> {
    const out = new Map<number, VeeMeter>();
    const missing: number[] = [];
    for (const id of ids) {
      const m = this.known.get(id);
      if (m) out.set(id, m);
      else missing.push(id);
    }
    if (missing.length) {
      const found = await veeMeters(db, missing);
      // Bounded: past the limit the cache starts again (never dropping what this call needs).
      if (this.known.size + found.size > this.maxMeters) this.known.clear();
      for (const [id, m] of found) {
        this.known.set(id, m);
        out.set(id, m);
      }
    }
    return out;
  }
}

/** A meter-channel and the span [fromMs, toMs) of its intervals whose data changed. */
export interface VeeTarget {
  meterId: number;
  channel: 1 | 2;
  fromMs: number;
  toMs: number;
}

/** The key of a meter-channel in this module's maps. */
const channelKey = (meterId: number, channel: number): string => `${meterId}:${channel}`;

/** One target per meter-channel: the span of the patches' intervals. */
export function targetsOf(patches: readonly DayPatch[]): VeeTarget[] {
  const m = new Map<string, VeeTarget>();
  for (const p of patches) {
    if (!p.idx.length) continue;
    const step = DAY_MS / p.intervalsPerDay;
    let lo = p.idx[0]!;
    let hi = p.idx[p.idx.length - 1]!;
    // A whole day in order (the common case) needs no scan: no index is below 0 or above the last.
    if (lo !== 0 || hi !== p.intervalsPerDay - 1) {
      for (const i of p.idx) {
        if (i < lo) lo = i;
        if (i > hi) hi = i;
      }
    }
    const from = p.day * DAY_MS + lo * step;
    const to = p.day * DAY_MS + (hi + 1) * step;
    const key = channelKey(p.meterId, p.channel);
    const t = m.get(key);
    if (!t) m.set(key, { meterId: p.meterId, channel: p.channel, fromMs: from, toMs: to });
    else {
      t.fromMs = Math.min(t.fromMs, from);
      t.toMs = Math.max(t.toMs, to);
    }
  }
  return [...m.values()];
}

export interface VeeRunCounts {
  windows: number;
  failures: number;
  exceptionsCreated: number;
  exceptionsResolved: number;
  daysFlagged: number;
}

interface Window {
  t: VeeTarget;
  meter: VeeMeter;
  fromMs: number;
  toMs: number;
  readFromDay: number;
  readToDay: number;
}

/** The whole local days (of the meter's zone) that cover [fromMs, toMs). */
export function localWindow(
  fromMs: number,
  toMs: number,
  timeZone: string,
): { fromMs: number; toMs: number } {
  const first = localDays(fromMs, 1, 1, timeZone)[0]!;
  const last = localDays(Math.max(fromMs, toMs - 1), 1, 1, timeZone)[0]!;
  return { fromMs: first.dayStart, toMs: last.dayEnd };
}

/** Largest window the rules run over at once (a re-VEE of a longer range runs in slices). */
const MAX_WINDOW_DAYS = 62;

/** What one run of the rules found: its windows, failures and the flags that changed. */
interface VeeOutcome {
  windows: Window[];
  exceptions: Array<{ w: Window; f: RuleFailure; version: number }>;
  flagUpdates: FlagUpdate[];
  /** the open and accepted exceptions inside the windows when they were read */
  existing: ExistingException[];
}

interface ExistingException {
  id: string;
  meterId: number;
  channel: number;
  rule: string;
  fromMs: number;
  toMs: number;
  open: boolean;
}

const exceptionKey = (m: number, c: number, rule: string, from: number, to: number) =>
  `${m}:${c}:${rule}:${from}:${to}`;

interface FlagUpdate {
  meterId: number;
  channel: number;
  day: number;
  flags: number[] | null;
}

export interface VeeRunOptions {
  ruleSets: Record<MeterClass, RuleSet>;
  now: number;
  onError?: (err: unknown) => void;
  /**
   * Day rows as they stand in this transaction (the chunk just merged, or about to be
   * stored): only the other days of the windows and their history are read.
   */
  known?: readonly DayRow[];
  /**
   * The known rows are about to be inserted with the flags set on them: their changes are not
   * listed as flag updates (default false: they are stored rows).
   */
  knownAreNew?: boolean;
  /** meters already looked up by this ingest (default: looked up now) */
  meterCache?: VeeMeterCache;
}

/**
 * Runs each target's class rule set over its whole local days as stored now (call it after the
 * merge, in the same transaction), with the previous 28 days as history and the merge's
 * corrected resends as conflicts. Writes the per-interval flags and records each failure as an
 * open exception (the same failure again adds nothing; one an operator accepted is not raised
 * again); open exceptions inside a window that no longer fail are resolved.
 */
export async function runVee(
  db: Queryable,
  targets: readonly VeeTarget[],
  opts: VeeRunOptions,
): Promise<VeeRunCounts> {
  return writeVeeOutcome(db, await evaluateVee(db, targets, opts));
}

/**
 * The read and the rules of runVee, without writing: the flags of the window's day rows change
 * in place (a known row's new flags are stored with it when the caller stores it), and the
 * outcome lists the failures and the flags of every row whose flags changed.
 */
async function evaluateVee(
  db: Queryable,
  targets: readonly VeeTarget[],
  opts: VeeRunOptions,
): Promise<VeeOutcome> {
  const outcome: VeeOutcome = {
    windows: [],
    exceptions: [],
    flagUpdates: [],
    existing: [],
  };
  if (!targets.length) return outcome;
  const ids = targets.map((t) => t.meterId);
  const meters = opts.meterCache ? await opts.meterCache.get(db, ids) : await veeMeters(db, ids);
  const windows = windowsOf(targets, meters, opts.onError);
  if (!windows.length) return outcome;
  outcome.windows = windows;
  // The rows known already, and one query for the rest (windows and their history), the
  // conflicts and the standing exceptions.
  const rowsBy: RowsBy = new Map();
  const known = new Set(opts.known);
  for (const row of known) putRow(rowsBy, row);
  const records = await readWindows(db, windows, rowsBy);
  const conflictsBy = takeRecords(records, rowsBy, outcome.existing);
  const judging: Judging = {
    rowsBy,
    conflictsBy,
    known,
    knownAreNew: opts.knownAreNew === true,
    flaggedKeys: new Set<string>(),
    ruleSets: opts.ruleSets,
    now: opts.now,
    onError: opts.onError ?? null,
    outcome,
  };
  for (const w of windows) judgeWindow(w, judging);
  return outcome;
}

/** Day rows by meter-channel (channelKey) and day. */
type RowsBy = Map<string, Map<number, DayRow>>;

function putRow(rowsBy: RowsBy, row: DayRow): void {
  const k = channelKey(row.meterId, row.channel);
  let m = rowsBy.get(k);
  if (!m) rowsBy.set(k, (m = new Map()));
  m.set(row.day, row);
}

/** The windows of the targets: whole local days of each meter's zone, at most 62 days each. */
function windowsOf(
  targets: readonly VeeTarget[],
  meters: Map<number, VeeMeter>,
  onError: ((err: unknown) => void) | undefined,
): Window[] {
  const windows: Window[] = [];
  for (const t of targets) {
    const meter = meters.get(t.meterId);
    if (!meter) continue;
    for (let a = t.fromMs; a < t.toMs; a += MAX_WINDOW_DAYS * DAY_MS) {
      const slice = { ...t, fromMs: a, toMs: Math.min(t.toMs, a + MAX_WINDOW_DAYS * DAY_MS) };
      let w: { fromMs: number; toMs: number };
      try {
        w = localWindow(slice.fromMs, slice.toMs, meter.timeZone);
      } catch (err) {
        onError?.(err);
        continue;
      }
      windows.push({
        t: slice,
        meter,
        ...w,
        readFromDay: Math.floor(w.fromMs / DAY_MS) - VEE_HISTORY_DAYS,
        readToDay: Math.floor((w.toMs - 1) / DAY_MS),
      });
    }
  }
  return windows;
}

type WindowRecord = DayRowRecord & {
  kind: 'r' | 'c' | 'e';
  ts: number | null;
  value: number | null;
  ex_id: string | null;
  rule: string | null;
  status: string | null;
  to_ms: number | null;
};

/**
 * One round trip for three reads: the windows' day rows (and their history) not in `rowsBy`
 * already (kind 'r'), the corrected resends of the windows (kind 'c') and the open and accepted
 * exceptions inside the windows (kind 'e'), which the run resolves or does not raise again.
 */
async function readWindows(
  db: Queryable,
  windows: readonly Window[],
  rowsBy: RowsBy,
): Promise<WindowRecord[]> {
  const ranges = { m: [] as number[], c: [] as number[], f: [] as string[], l: [] as string[] };
  /** the first and the last day of the ranges (see withinDays) */
  const rangeEnds: number[] = [];
  const asked = new Set<string>();
  for (const w of windows) {
    const have = rowsBy.get(channelKey(w.t.meterId, w.t.channel));
    let start = -1;
    for (let d = w.readFromDay; d <= w.readToDay + 1; d++) {
      const missing = d <= w.readToDay && !have?.has(d);
      if (missing && start < 0) start = d;
      if (!missing && start >= 0) {
        const key = `${w.t.meterId}:${w.t.channel}:${start}:${d - 1}`;
        if (!asked.has(key)) {
          asked.add(key);
          ranges.m.push(w.t.meterId);
          ranges.c.push(w.t.channel);
          ranges.f.push(epochDayToDate(start));
          ranges.l.push(epochDayToDate(d - 1));
          rangeEnds.push(start, d - 1);
        }
        start = -1;
      }
    }
  }
  const wm = numberArrayLiteral(windows.map((w) => w.t.meterId));
  const wc = numberArrayLiteral(windows.map((w) => w.t.channel));
  const wf = numberArrayLiteral(windows.map((w) => w.fromMs / 1000));
  const wl = numberArrayLiteral(windows.map((w) => w.toMs / 1000));
  return db.query(sql`
    SELECT 'r' AS kind, r.meter_id, r.channel, (r.day - DATE '1970-01-01') AS day,
           r.vals::text AS vals, r.quality, r.batches, r.batch_idx, r.versions, r.vee_flags,
           r.version, NULL::float8 AS ts, NULL::real AS value, NULL::bigint AS ex_id,
           NULL::text AS rule, NULL::text AS status, NULL::float8 AS to_ms
    FROM unnest(${numberArrayLiteral(ranges.m)}::bigint[], ${numberArrayLiteral(ranges.c)}::smallint[],
                ${textArrayLiteral(ranges.f)}::date[], ${textArrayLiteral(ranges.l)}::date[]) AS t(m, c, f, l)
    JOIN reading_day r ON r.meter_id = t.m AND r.channel = t.c AND r.day BETWEEN t.f AND t.l
      AND ${withinDays(sql`r.day`, rangeEnds)}
    UNION ALL
    SELECT 'c', h.meter_id, h.channel, NULL, NULL, NULL, NULL, NULL, NULL, NULL, h.version,
           (extract(epoch FROM h.ts) * 1000)::float8, h.value, NULL, NULL, NULL, NULL
    FROM unnest(${wm}::bigint[], ${wc}::smallint[], ${wf}::float8[], ${wl}::float8[])
         AS t(m, c, f, l)
    JOIN reading_history h ON h.meter_id = t.m AND h.channel = t.c
      AND h.ts >= to_timestamp(t.f) AND h.ts < to_timestamp(t.l)
    WHERE h.reason = 'corrected_resend' AND h.value IS NOT NULL
    UNION ALL
    SELECT 'e', e.meter_id, e.channel, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           (extract(epoch FROM e.from_ts) * 1000)::float8, NULL, e.id, e.rule, e.status,
           (extract(epoch FROM e.to_ts) * 1000)::float8
    FROM unnest(${wm}::bigint[], ${wc}::smallint[], ${wf}::float8[], ${wl}::float8[])
         AS t(m, c, f, l)
    JOIN vee_exception e ON e.meter_id = t.m AND e.channel = t.c
      AND e.from_ts >= to_timestamp(t.f) AND e.to_ts <= to_timestamp(t.l)
    WHERE e.status IN ('open', 'accepted')`);
}

/**
 * Takes what readWindows read: the day rows into `rowsBy`, the standing exceptions into
 * `existing` (each once), and returns the corrected resends per meter-channel and interval,
 * the values each interval had, oldest version first.
 */
function takeRecords(
  records: readonly WindowRecord[],
  rowsBy: RowsBy,
  existing: ExistingException[],
): Map<string, Map<number, number[]>> {
  const resends: Array<{ key: string; ts: number; version: number; value: number }> = [];
  const seen = new Set<string>();
  for (const rec of records) {
    if (rec.kind === 'r') {
      putRow(rowsBy, decodeDayRow({ ...rec, day: epochDayToDate(Number(rec.day)) }));
    } else if (rec.kind === 'c')
      resends.push({
        key: channelKey(Number(rec.meter_id), rec.channel),
        ts: Number(rec.ts),
        version: rec.version,
        value: rec.value!,
      });
    else if (!seen.has(rec.ex_id!)) {
      // (windows of one target may share a local day, and so an exception)
      seen.add(rec.ex_id!);
      existing.push({
        id: rec.ex_id!,
        meterId: Number(rec.meter_id),
        channel: rec.channel,
        rule: rec.rule!,
        fromMs: Number(rec.ts),
        toMs: Number(rec.to_ms),
        open: rec.status === 'open',
      });
    }
  }
  resends.sort((a, b) => a.ts - b.ts || a.version - b.version);
  const conflictsBy = new Map<string, Map<number, number[]>>();
  for (const c of resends) {
    let m = conflictsBy.get(c.key);
    if (!m) conflictsBy.set(c.key, (m = new Map()));
    const list = m.get(c.ts);
    if (list) list.push(c.value);
    else m.set(c.ts, [c.value]);
  }
  return conflictsBy;
}

/** What the windows of one run share while they are judged (see judgeWindow). */
interface Judging {
  rowsBy: RowsBy;
  conflictsBy: Map<string, Map<number, number[]>>;
  /** the rows the caller passed in (VeeRunOptions.known) */
  known: Set<DayRow>;
  knownAreNew: boolean;
  /** day rows whose flags this run changed already (windows of one target may share a day) */
  flaggedKeys: Set<string>;
  // The options the windows use, as fields of one shape: callers' option objects differ in
  // shape, and reading them in the loop deoptimised it.
  ruleSets: VeeRunOptions['ruleSets'];
  now: number;
  onError: ((err: unknown) => void) | null;
  outcome: VeeOutcome;
}

/**
 * Runs the rules over one window and records what they found: its failures, and the flags of
 * its day rows where they changed (in place on the rows, listed for stored rows). A function
 * of its own, apart from evaluateVee's reads: as one async function the whole was compiled
 * again after every deoptimisation, 80–150 ms of a V8 background thread each time, eight
 * times in an ingest of the bench CSV (`--trace-opt`). Split, and reading the options from
 * one shape (Judging), the two compile two or three times, at 40–60 ms.
 */
function judgeWindow(w: Window, run: Judging): void {
  const { rowsBy, conflictsBy, known, flaggedKeys } = run;
  const exc = run.outcome.exceptions;
  const flagUpdates = run.outcome.flagUpdates;
  const k = channelKey(w.t.meterId, w.t.channel);
  const byDay = rowsBy.get(k) ?? new Map<number, DayRow>();
  const stepMs = w.meter.intervalSeconds * 1000;
  const all = [...byDay.values()];
  const inWindow = all.filter((r) => r.day >= Math.floor(w.fromMs / DAY_MS));
  const series = buildPackedSeries(inWindow, w.fromMs, w.toMs, w.meter.intervalSeconds);
  const earlier = all.filter((r) => r.day < Math.ceil(w.fromMs / DAY_MS));
  // No stored day before the window (a meter's first data): an empty history, which the
  // rules read exactly as 28 days without values (every history threshold is ≥ 1 day).
  const history = buildPackedSeries(
    earlier,
    earlier.length ? w.fromMs - VEE_HISTORY_DAYS * DAY_MS : w.fromMs,
    w.fromMs,
    w.meter.intervalSeconds,
  );
  for (let i = 0; i < history.values.length; i++) {
    if (history.quality[i] === Quality.FAILED_VALIDATION) history.values[i] = NaN;
  }
  const conflicts: Array<{ ts: number; values: number[] }> = [];
  for (const [ts, olds] of conflictsBy.get(k) ?? []) {
    if (ts < w.fromMs || ts >= w.toMs) continue;
    const cur = series.values[(ts - w.fromMs) / stepMs];
    conflicts.push({ ts, values: cur === undefined || cur !== cur ? olds : [...olds, cur] });
  }
  const ruleSet = run.ruleSets[w.meter.meterClass] ?? DEFAULT_RULE_SETS[w.meter.meterClass];
  let result;
  try {
    result = runRules(
      {
        meter: {
          serial: w.meter.serial,
          intervalSeconds: w.meter.intervalSeconds,
          installedAt: w.meter.installedAt,
          removedAt: w.meter.removedAt,
          multiplier: w.meter.multiplier,
          channel: channelFromCode(w.t.channel),
          timeZone: w.meter.timeZone,
        },
        series,
        conflicts,
        history: { intervals: history },
        now: run.now,
      },
      ruleSet,
    );
  } catch (err) {
    run.onError?.(err);
    return;
  }
  for (const f of result.failures) exc.push({ w, f, version: ruleSet.version });
  // The flagged intervals lie within [firstFlag, lastFlag] (none: firstFlag > lastFlag).
  const windowFlags = result.flags;
  let firstFlag = 0;
  while (firstFlag < windowFlags.length && windowFlags[firstFlag] === 0) firstFlag++;
  let lastFlag = windowFlags.length - 1;
  while (lastFlag >= firstFlag && windowFlags[lastFlag] === 0) lastFlag--;
  // Flags of the window's intervals; intervals of a stored day outside the window keep theirs.
  for (const row of inWindow) {
    if (row.vals.length * stepMs !== DAY_MS) continue;
    const dayStart = row.day * DAY_MS;
    if (row.veeFlags === null) {
      // The common case: nothing flagged before and nothing now (no array built).
      const a = Math.max(firstFlag, (dayStart - w.fromMs) / stepMs);
      const b = Math.min(lastFlag + 1, (dayStart - w.fromMs) / stepMs + row.vals.length);
      let any = false;
      for (let j = a; j < b && !any; j++) any = windowFlags[j] !== 0;
      if (!any) continue;
    }
    const next = row.veeFlags ? row.veeFlags.slice() : new Array<number>(row.vals.length).fill(0);
    for (let i = 0; i < row.vals.length; i++) {
      const ts = dayStart + i * stepMs;
      if (ts < w.fromMs || ts >= w.toMs) continue;
      next[i] = result.flags[(ts - w.fromMs) / stepMs]!;
    }
    const flags = next.some((f) => f !== 0) ? next : null;
    const same =
      flags === null
        ? row.veeFlags === null
        : row.veeFlags !== null && row.veeFlags.every((f, i) => f === flags[i]);
    const key = dayKey(row.meterId, row.channel, row.day);
    if (!same && !flaggedKeys.has(key)) {
      flaggedKeys.add(key);
      row.veeFlags = flags;
      if (!(run.knownAreNew && known.has(row))) {
        flagUpdates.push({ meterId: row.meterId, channel: row.channel, day: row.day, flags });
      }
    }
  }
}

/**
 * Merges patches into the store and validates them, in the caller's transaction, with the rules
 * run before the days are stored: over the rows the patches make of new days, which are then
 * inserted with their flags, and with the new exceptions in the same statement. The day rows
 * a chunk inserts are locked from its insert to its commit, and a concurrent chunk with
 * intervals of the same day waits for that commit, so the rules stay out of that time. Only a
 * meter-channel one of whose days was stored already (the other half of a day cut between two
 * chunks, a resend) is validated again after the merge, over the merged rows.
 */
export async function writeValidatedPatches(
  pool: ConnectionPool,
  tx: Transaction,
  patches: readonly DayPatch[],
  batchId: number,
  opts: Omit<VeeRunOptions, 'known' | 'knownAreNew'>,
): Promise<WriteCounts> {
  const targets = targetsOf(patches);
  const keyOf = (x: { meterId: number; channel: number }) => channelKey(x.meterId, x.channel);
  let first: VeeWrites | null = null;
  const merged: DayRow[] = [];
  const conflicted: DayPatch[] = [];
  const counts = await writePatches(pool, patches, batchId, {
    tx,
    collect: merged,
    conflicted,
    beforeInsert: async (rows) => {
      // A new row carries its flags into the insert; a stored row whose flags changed is updated.
      first = planWrites(
        await evaluateVee(tx, targets, { ...opts, known: rows, knownAreNew: true }),
      );
      // The new exceptions go with the insert, but for the meter-channels it finds stored
      // already: those are validated again below.
      const { create } = first;
      return create.length ? (skip) => insertExceptions(create, skip) : undefined;
    },
  });
  if (!first) return counts;
  const { resolve, flagUpdates }: VeeWrites = first;
  // Meter-channels with a day stored already: validated again below, over the merged rows.
  const again = new Set(conflicted.map(keyOf));
  const mine = (x: { meterId: number; channel: number }) => !again.has(keyOf(x));
  const writes: VeeWrites = {
    create: [],
    resolve: resolve.filter(mine),
    flagUpdates: flagUpdates.filter(mine),
  };
  if (again.size) {
    const second = planWrites(
      await evaluateVee(
        tx,
        targets.filter((t) => !mine(t)),
        { ...opts, known: merged },
      ),
    );
    writes.create.push(...second.create);
    writes.resolve.push(...second.resolve);
    writes.flagUpdates.push(...second.flagUpdates);
  }
  await applyWrites(tx, writes);
  return counts;
}

type NewException = VeeOutcome['exceptions'][number];

/** What a run of the rules changes: its new exceptions, those it resolves, the flags. */
interface VeeWrites {
  /** failures not already open or accepted (each once) */
  create: NewException[];
  /** open exceptions inside a window that the run did not find again */
  resolve: ExistingException[];
  flagUpdates: FlagUpdate[];
}

function planWrites(o: VeeOutcome): VeeWrites {
  const failing = new Set<string>();
  const create: NewException[] = [];
  const standing = new Set(
    o.existing.map((e) => exceptionKey(e.meterId, e.channel, e.rule, e.fromMs, e.toMs)),
  );
  for (const e of o.exceptions) {
    const k = exceptionKey(e.w.t.meterId, e.w.t.channel, e.f.rule, e.f.from, e.f.to);
    if (failing.has(k)) continue;
    failing.add(k);
    if (!standing.has(k)) create.push(e);
  }
  const resolve = o.existing.filter(
    (e) => e.open && !failing.has(exceptionKey(e.meterId, e.channel, e.rule, e.fromMs, e.toMs)),
  );
  return { create, resolve, flagUpdates: o.flagUpdates };
}

/**
 * The insert of new open exceptions; with `skip`, a relation of (m, c) pairs, not those of
 * its meter-channels. An exception raised concurrently by another run is not raised twice
 * (the open key).
 */
function insertExceptions(create: readonly NewException[], skip?: SQLQuery): SQLQuery {
  return sql`
    INSERT INTO vee_exception
      (meter_id, channel, from_ts, to_ts, rule, severity, detail, data, rule_set_version)
    SELECT m, c, to_timestamp(f), to_timestamp(l), r, s, d, NULLIF(j, 'null')::jsonb, v
    FROM unnest(${numberArrayLiteral(create.map((e) => e.w.t.meterId))}::bigint[],
                ${numberArrayLiteral(create.map((e) => e.w.t.channel))}::smallint[],
                ${numberArrayLiteral(create.map((e) => e.f.from / 1000))}::float8[],
                ${numberArrayLiteral(create.map((e) => e.f.to / 1000))}::float8[],
                ${textArrayLiteral(create.map((e) => e.f.rule as string))}::text[],
                ${textArrayLiteral(create.map((e) => e.f.severity as string))}::text[],
                ${textArrayLiteral(create.map((e) => e.f.detail))}::text[],
                ${textArrayLiteral(create.map((e) => JSON.stringify(e.f.data ?? null)))}::text[],
                ${numberArrayLiteral(create.map((e) => e.version))}::integer[]) AS t(m, c, f, l, r, s, d, j, v)
    ${skip ? sql`WHERE NOT EXISTS (SELECT 1 FROM ${skip} k WHERE k.m = t.m AND k.c = t.c)` : sql``}
    ON CONFLICT (meter_id, channel, rule, from_ts, to_ts) WHERE status = 'open' DO NOTHING
    RETURNING 1`;
}

/**
 * Writes what evaluateVee found (see planWrites). Each kind is one statement, run only when it
 * has rows: a run that found what was there before writes nothing.
 */
async function writeVeeOutcome(db: Queryable, o: VeeOutcome): Promise<VeeRunCounts> {
  const counts = await applyWrites(db, planWrites(o));
  return { ...counts, windows: o.windows.length, failures: o.exceptions.length };
}

async function applyWrites(
  db: Queryable,
  w: VeeWrites,
): Promise<Pick<VeeRunCounts, 'exceptionsCreated' | 'exceptionsResolved' | 'daysFlagged'>> {
  const counts = { exceptionsCreated: 0, exceptionsResolved: 0, daysFlagged: 0 };
  const { flagUpdates, resolve, create } = w;
  if (flagUpdates.length) {
    const rows = await db.query(sql`
      UPDATE reading_day r SET vee_flags = t.vf::integer[]
      FROM unnest(${numberArrayLiteral(flagUpdates.map((u) => u.meterId))}::bigint[],
                  ${numberArrayLiteral(flagUpdates.map((u) => u.channel))}::smallint[],
                  ${textArrayLiteral(flagUpdates.map((u) => epochDayToDate(u.day)))}::date[],
                  ${textArrayLiteral(flagUpdates.map((u) => intArrayLiteral(u.flags)))}::text[]) AS t(m, c, d, vf)
      WHERE r.meter_id = t.m AND r.channel = t.c AND r.day = t.d
        AND ${withinDays(
          sql`r.day`,
          flagUpdates.map((u) => u.day),
        )}
      RETURNING 1`);
    counts.daysFlagged = rows.length;
  }
  if (resolve.length) {
    // Still open: an operator may have decided it since it was read.
    const rows = await db.query(sql`
      UPDATE vee_exception e
      SET status = 'resolved', decided_by = 'vee', decided_at = now(),
          note = 'no longer fails when validated again'
      FROM unnest(${numberArrayLiteral(resolve.map((e) => e.meterId))}::bigint[],
                  ${textArrayLiteral(resolve.map((e) => String(e.id)))}::bigint[]) AS t(m, id)
      WHERE e.meter_id = t.m AND e.id = t.id AND e.status = 'open'
      RETURNING 1`);
    counts.exceptionsResolved = rows.length;
  }
  if (create.length) counts.exceptionsCreated = (await db.query(insertExceptions(create))).length;
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Exceptions

export const EXCEPTION_STATUSES = ['open', 'accepted', 'resolved'] as const;
export type ExceptionStatus = (typeof EXCEPTION_STATUSES)[number];

export interface ExceptionRecord {
  id: number;
  meterId: number;
  meterSerial: string;
  channel: Channel;
  from: Date;
  to: Date;
  rule: string;
  severity: string;
  detail: string;
  data: Record<string, number> | null;
  status: ExceptionStatus;
  createdAt: Date;
  ruleSetVersion: number;
  decidedBy: string | null;
  decidedAt: Date | null;
  note: string | null;
}

export interface ExceptionFilter {
  meterSerial?: string | null;
  rule?: string | null;
  status?: ExceptionStatus | null;
  severity?: string | null;
  from?: Date | null;
  to?: Date | null;
}

function toException(r: Record<string, unknown>): ExceptionRecord {
  return {
    id: Number(r.id),
    meterId: Number(r.meter_id),
    meterSerial: r.serial as string,
    channel: channelFromCode(Number(r.channel)),
    from: r.from_ts as Date,
    to: r.to_ts as Date,
    rule: r.rule as string,
    severity: r.severity as string,
    detail: r.detail as string,
    data: (r.data as Record<string, number> | null) ?? null,
    status: r.status as ExceptionStatus,
    createdAt: r.created_at as Date,
    ruleSetVersion: Number(r.rule_set_version),
    decidedBy: (r.decided_by as string | null) ?? null,
    decidedAt: (r.decided_at as Date | null) ?? null,
    note: (r.note as string | null) ?? null,
  };
}

/** Exceptions matching the filter, newest range first, keyset-paged by (from_ts, id) descending. */
export async function listExceptions(
  db: Queryable,
  f: ExceptionFilter,
  page: { first: number; after?: { fromMs: number; id: number } | null },
): Promise<ExceptionRecord[]> {
  const conds = [sql`TRUE`];
  if (f.meterSerial) conds.push(sql`m.serial = ${f.meterSerial}`);
  if (f.rule) conds.push(sql`e.rule = ${f.rule}`);
  if (f.status) conds.push(sql`e.status = ${f.status}`);
  if (f.severity) conds.push(sql`e.severity = ${f.severity}`);
  if (f.from) conds.push(sql`e.to_ts > ${f.from}`);
  if (f.to) conds.push(sql`e.from_ts < ${f.to}`);
  if (page.after) {
    conds.push(
      sql`(e.from_ts, e.id) < (to_timestamp(${page.after.fromMs / 1000}::float8), ${page.after.id}::bigint)`,
    );
  }
  const rows: Array<Record<string, unknown>> = await db.query(sql`
    SELECT e.*, m.serial FROM vee_exception e JOIN meter m ON m.id = e.meter_id
    WHERE ${sql.join(conds, sql` AND `)}
    ORDER BY e.from_ts DESC, e.id DESC
    LIMIT ${page.first}`);
  return rows.map(toException);
}

/** Accepts or resolves an open exception; NOT_FOUND when there is none, BAD_USER_INPUT when closed. */
export async function decideException(
  db: Queryable,
  id: number,
  status: 'accepted' | 'resolved',
  user: string,
  note: string | null,
): Promise<ExceptionRecord> {
  const rows: Array<Record<string, unknown>> = await db.query(sql`
    UPDATE vee_exception e SET status = ${status}, decided_by = ${user}, decided_at = now(), note = ${note}
    FROM meter m
    WHERE e.id = ${id} AND e.status = 'open' AND m.id = e.meter_id
    RETURNING e.*, m.serial`);
  if (rows.length) return toException(rows[0]!);
  const [cur] = await db.query(sql`SELECT status FROM vee_exception WHERE id = ${id}`);
  if (!cur) throw new MeterdataError(ErrorCode.NOT_FOUND, `no VEE exception ${id}`);
  throw new MeterdataError(
    ErrorCode.BAD_USER_INPUT,
    `VEE exception ${id} is already ${String(cur.status)}; only open exceptions can be decided`,
  );
}

/** Open exceptions of a meter-channel per range, for summaries. */
export async function openExceptionsIn(
  db: Queryable,
  meterId: number,
  channel: 1 | 2,
  fromMs: number,
  toMs: number,
): Promise<Array<{ from: number; to: number }>> {
  const rows: Array<{ f: number; t: number }> = await db.query(sql`
    SELECT (extract(epoch FROM from_ts) * 1000)::float8 AS f, (extract(epoch FROM to_ts) * 1000)::float8 AS t
    FROM vee_exception
    WHERE meter_id = ${meterId} AND channel = ${channel} AND status = 'open'
      AND to_ts > to_timestamp(${fromMs / 1000}::float8) AND from_ts < to_timestamp(${toMs / 1000}::float8)`);
  return rows.map((r) => ({ from: Number(r.f), to: Number(r.t) }));
}

/**
 * Re-runs the current rule sets over [fromMs, toMs) of one meter, or of every meter installed in
 * the range (`meterIds` null), in transactions of a few hundred meter-channels. Idempotent: a
 * second run finds the same failures and so creates nothing.
 */
export async function revalidate(
  pool: ConnectionPool,
  meterIds: readonly number[] | null,
  fromMs: number,
  toMs: number,
  now: number,
): Promise<VeeRunCounts> {
  const from = new Date(fromMs);
  const to = new Date(toMs);
  const rows: Array<{ id: number; channels: Channel[] }> = await pool.query(sql`
    SELECT id, channels FROM meter
    WHERE installed_at < ${to} AND (removed_at IS NULL OR removed_at > ${from})
      ${meterIds ? sql`AND id = ANY(${[...meterIds]}::bigint[])` : sql``}
    ORDER BY id`);
  const targets: VeeTarget[] = rows.flatMap((r) =>
    r.channels.map((c) => ({
      meterId: Number(r.id),
      channel: c === 'delivered' ? (1 as const) : (2 as const),
      fromMs,
      toMs,
    })),
  );
  const ruleSets = await currentRuleSets(pool).then(
    (s) =>
      Object.fromEntries(Object.entries(s).map(([c, v]) => [c, v.ruleSet])) as Record<
        MeterClass,
        RuleSet
      >,
  );
  const total: VeeRunCounts = {
    windows: 0,
    failures: 0,
    exceptionsCreated: 0,
    exceptionsResolved: 0,
    daysFlagged: 0,
  };
  for (let i = 0; i < targets.length; i += 200) {
    const c = await pool.tx((tx) => runVee(tx, targets.slice(i, i + 200), { ruleSets, now }));
    for (const k of Object.keys(total) as Array<keyof VeeRunCounts>) total[k] += c[k];
  }
  return total;
}

/** Per-interval flags of day rows laid on the grid [fromMs, toMs) (0 where none). */
export function flagSeries(
  rows: readonly DayRow[],
  fromMs: number,
  toMs: number,
  intervalSeconds: number,
): Int32Array {
  const step = intervalSeconds * 1000;
  const out = new Int32Array(Math.max(0, Math.round((toMs - fromMs) / step)));
  for (const row of rows) {
    if (!row.veeFlags || row.vals.length * step !== DAY_MS) continue;
    const dayStart = row.day * DAY_MS;
    for (let i = 0; i < row.veeFlags.length; i++) {
      const k = (dayStart + i * step - fromMs) / step;
      if (k >= 0 && k < out.length) out[k] = row.veeFlags[i]!;
    }
  }
  return out;
}
