/**
 * SQL of the reading store: partitions on demand, set-based merge of day patches (one
 * round-trip per step for a whole chunk), history, and the two read shapes (one meter over a
 * range; many meters at one interval).
 */
import {
  sql,
  type ConnectionPool,
  type Queryable,
  type SQLQuery,
  type Transaction,
} from '@databases/pg';
import {
  dayKey,
  type DayPatch,
  type DayRow,
  type HistoryEntry,
  mergeDay,
  type MergeResult,
  type ChangeReason,
} from '../domain/readings';
import {
  decodeDayRow,
  type DayRowRecord,
  encodeBatchIdx,
  epochDayToDate,
  intArrayLiteral,
  numberArrayLiteral,
  realArraysLiteral,
  textArrayLiteral,
} from './codec';

export interface WriteCounts {
  accepted: number;
  unchanged: number;
  changed: number;
}

/** Month partitions known to exist, per pool: saves a round-trip on every chunk. */
const knownMonths = new WeakMap<ConnectionPool, Set<string>>();

function monthOf(day: number): string {
  return epochDayToDate(day).slice(0, 7);
}

export async function ensurePartitions(
  pool: ConnectionPool,
  days: Iterable<number>,
): Promise<number> {
  let known = knownMonths.get(pool);
  if (!known) knownMonths.set(pool, (known = new Set()));
  const missing = new Set<string>();
  for (const d of days) {
    const m = monthOf(d);
    if (!known.has(m)) missing.add(m);
  }
  if (missing.size === 0) return 0;
  const months = [...missing].sort();
  let created = 0;
  // Contiguous or not, one call per month keeps the function simple and the lock short.
  for (const m of months) {
    const [row] = await pool.query(
      sql`SELECT meterdata_ensure_reading_partitions(${`${m}-01`}::date, ${`${m}-01`}::date) AS n`,
    );
    created += Number(row.n);
    known.add(m);
  }
  return created;
}

/**
 * `column BETWEEN first AND last` over the days a statement touches, as constants of the
 * statement: PostgreSQL then prunes reading_day's month partitions while it plans it. A join on
 * arrays of keys alone is planned over every partition, and every partition is locked when it
 * runs: with three years of months that was 17 ms of planning for each chunk's VEE read. No
 * days: FALSE.
 */
export function withinDays(column: SQLQuery, days: Iterable<number>): SQLQuery {
  let lo = Infinity;
  let hi = -Infinity;
  for (const d of days) {
    if (d < lo) lo = d;
    if (d > hi) hi = d;
  }
  if (lo > hi) return sql`FALSE`;
  return sql`${column} BETWEEN ${epochDayToDate(lo)}::date AND ${epochDayToDate(hi)}::date`;
}

const DAY_COLUMNS = sql`meter_id, channel, (day - DATE '1970-01-01') AS day, vals::text AS vals, quality, batches, batch_idx, versions, vee_flags, version`;

async function selectDaysForUpdate(
  tx: Queryable,
  keys: ReadonlyArray<{ meterId: number; channel: number; day: number }>,
): Promise<Map<string, DayRow>> {
  const out = new Map<string, DayRow>();
  if (keys.length === 0) return out;
  const rows: DayRowRecord[] = await tx.query(sql`
    SELECT ${DAY_COLUMNS}
    FROM reading_day
    WHERE (meter_id, channel, day) IN (
      SELECT * FROM unnest(${numberArrayLiteral(keys.map((k) => k.meterId))}::bigint[],
                           ${numberArrayLiteral(keys.map((k) => k.channel))}::smallint[],
                           ${textArrayLiteral(keys.map((k) => epochDayToDate(k.day)))}::date[]))
      AND ${withinDays(
        sql`day`,
        keys.map((k) => k.day),
      )}
    ORDER BY meter_id, channel, day
    FOR UPDATE`);
  for (const r of rows) {
    const row = decodeDayRow({ ...r, day: epochDayToDate(Number(r.day)) });
    out.set(dayKey(row.meterId, row.channel, row.day), row);
  }
  return out;
}

function rowParams(rows: readonly DayRow[]) {
  // One loop, no closure per column: closures made per call were compiled again and again.
  const n = rows.length;
  const meterIds: number[] = [];
  const channels: number[] = [];
  const days: string[] = [];
  const vals: Array<ArrayLike<number | null>> = [];
  const quality: string[] = [];
  const batches: Array<string | null> = [];
  const batchIdx: Array<string | null> = [];
  const versions: Array<string | null> = [];
  const veeFlags: Array<string | null> = [];
  const version: number[] = [];
  for (let k = 0; k < n; k++) {
    const r = rows[k]!;
    meterIds.push(r.meterId);
    channels.push(r.channel);
    days.push(epochDayToDate(r.day));
    vals.push(r.vals);
    quality.push(
      Buffer.from(r.quality.buffer, r.quality.byteOffset, r.quality.length).toString('hex'),
    );
    batches.push(intArrayLiteral(r.batches));
    batchIdx.push(encodeBatchIdx(r));
    versions.push(intArrayLiteral(r.versions));
    veeFlags.push(intArrayLiteral(r.veeFlags));
    version.push(r.version);
  }
  return {
    meterIds: numberArrayLiteral(meterIds),
    channels: numberArrayLiteral(channels),
    days: textArrayLiteral(days),
    // Array-valued columns go as one text[] literal each, built here (see textArrayLiteral).
    vals: realArraysLiteral(vals),
    quality: textArrayLiteral(quality),
    batches: textArrayLiteral(batches),
    batchIdx: textArrayLiteral(batchIdx),
    versions: textArrayLiteral(versions),
    veeFlags: textArrayLiteral(veeFlags),
    version: numberArrayLiteral(version),
  };
}

/**
 * A statement to run with the insert of new days, in the same round trip: given `conflicted`,
 * the relation (m, c) of the meter-channels with a day that was stored already, a
 * data-modifying statement (see writePatches' beforeInsert).
 */
export type AlongsideInsert = (conflicted: SQLQuery) => SQLQuery;

async function insertNewDays(
  tx: Queryable,
  rows: readonly DayRow[],
  alongside?: AlongsideInsert,
): Promise<Set<string>> {
  const inserted = new Set<string>();
  if (rows.length === 0) return inserted;
  const p = rowParams(rows);
  const params = sql`
    unnest(${p.meterIds}::bigint[], ${p.channels}::smallint[], ${p.days}::date[],
           ${p.vals}::text[], ${p.quality}::text[], ${p.batches}::text[], ${p.batchIdx}::text[],
           ${p.versions}::text[], ${p.veeFlags}::text[], ${p.version}::integer[])
      AS t(m, c, d, v, q, b, bi, vs, vf, ver)`;
  const insert = (from: SQLQuery, returning: SQLQuery) => sql`
    INSERT INTO reading_day (meter_id, channel, day, vals, quality, batches, batch_idx, versions, vee_flags, version)
    SELECT m, c, d, v::real[], decode(q, 'hex'), b::bigint[], decode(bi, 'hex'), vs::smallint[], vf::integer[], ver
    FROM ${from}
    ON CONFLICT (meter_id, channel, day) DO NOTHING
    RETURNING ${returning}`;
  // With a statement alongside, the days the insert did not take are found from their keys
  // alone (the rows' arrays are read once, by the insert, not kept for a second look).
  const res: Array<{ meter_id: number; channel: number; day: number }> = await tx.query(
    alongside
      ? sql`
    WITH ins AS (${insert(params, sql`meter_id, channel, day`)}),
    conflicted AS (
      SELECT DISTINCT k.m, k.c
      FROM unnest(${p.meterIds}::bigint[], ${p.channels}::smallint[], ${p.days}::date[]) AS k(m, c, d)
      WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.meter_id = k.m AND ins.channel = k.c AND ins.day = k.d)),
    alongside AS (${alongside(sql`conflicted`)})
    SELECT meter_id, channel, (day - DATE '1970-01-01') AS day FROM ins`
      : insert(params, sql`meter_id, channel, (day - DATE '1970-01-01') AS day`),
  );
  for (const r of res) inserted.add(dayKey(Number(r.meter_id), r.channel, Number(r.day)));
  return inserted;
}

async function updateDays(tx: Queryable, rows: readonly DayRow[]): Promise<void> {
  if (rows.length === 0) return;
  const p = rowParams(rows);
  await tx.query(sql`
    UPDATE reading_day r
    SET vals = t.v::real[], quality = decode(t.q, 'hex'), batches = t.b::bigint[],
        batch_idx = decode(t.bi, 'hex'), versions = t.vs::smallint[], vee_flags = t.vf::integer[],
        version = t.ver, updated_at = now()
    FROM unnest(${p.meterIds}::bigint[], ${p.channels}::smallint[], ${p.days}::date[],
                ${p.vals}::text[], ${p.quality}::text[], ${p.batches}::text[], ${p.batchIdx}::text[],
                ${p.versions}::text[], ${p.veeFlags}::text[], ${p.version}::integer[])
         AS t(m, c, d, v, q, b, bi, vs, vf, ver)
    WHERE r.meter_id = t.m AND r.channel = t.c AND r.day = t.d
      AND ${withinDays(
        sql`r.day`,
        rows.map((r) => r.day),
      )}`);
}

export async function insertHistory(
  tx: Queryable,
  entries: readonly HistoryEntry[],
  by: { batchId?: number | null; user?: string | null },
): Promise<void> {
  if (entries.length === 0) return;
  await tx.query(sql`
    INSERT INTO reading_history
      (meter_id, channel, ts, version, value, quality, batch_id, new_value, new_quality, reason,
       changed_by_batch, changed_by_user)
    SELECT m, c, to_timestamp(ts / 1000.0), ver, v, q, b, nv, nq, r, ${by.batchId ?? null}::bigint, ${by.user ?? null}::text
    FROM unnest(${entries.map((e) => e.meterId)}::bigint[], ${entries.map((e) => e.channel)}::smallint[],
                ${entries.map((e) => e.ts)}::double precision[], ${entries.map((e) => e.version)}::integer[],
                ${entries.map((e) => e.value)}::real[], ${entries.map((e) => e.quality)}::smallint[],
                ${entries.map((e) => e.batchId)}::bigint[], ${entries.map((e) => e.newValue)}::real[],
                ${entries.map((e) => e.newQuality)}::smallint[], ${entries.map((e) => e.reason)}::text[])
         AS t(m, c, ts, ver, v, q, b, nv, nq, r)`);
}

/**
 * Merges day patches into the store in one transaction: new days are inserted, days already
 * stored (or inserted first by a concurrent writer) are locked and merged, changes leave
 * history. Idempotent: the same patches again change nothing.
 */
export async function writePatches(
  pool: ConnectionPool,
  patches: readonly DayPatch[],
  batchId: number,
  opts: {
    reason?: ChangeReason;
    user?: string | null;
    tx?: Transaction;
    /** receives every merged day row as written (or found unchanged), for VEE */
    collect?: DayRow[];
    /**
     * Called with the rows the patches make of days not stored yet, before they are offered
     * as new rows: what it sets on them (VEE flags) is stored with them, and the statement it
     * returns runs with their insert.
     */
    beforeInsert?: (fresh: readonly DayRow[]) => Promise<AlongsideInsert | undefined>;
    /** receives the patches that merged into days already stored (their fresh rows were not stored) */
    conflicted?: DayPatch[];
  } = {},
): Promise<WriteCounts> {
  if (patches.length === 0) return { accepted: 0, unchanged: 0, changed: 0 };
  await ensurePartitions(pool, daysOf(patches));
  // Sorted keys: two writers of overlapping chunks take their locks in the same order (a
  // deadlock between one's insert and the other's merge is retried, see retryOnConflict).
  // The options once, in one shape: callers' option objects differ in shape, and reading them
  // in the transaction's body deoptimised it.
  const w: SortedWrite = {
    sorted: [...patches].sort(byDayKey),
    batchId,
    reason: opts.reason,
    user: opts.user ?? null,
    collect: opts.collect,
    beforeInsert: opts.beforeInsert,
    conflicted: opts.conflicted,
  };
  // Inside a caller's transaction the caller retries; on its own it retries itself.
  if (opts.tx) return writeSorted(opts.tx, w);
  return retryOnConflict(() => pool.tx((tx) => writeSorted(tx, w)));
}

/** The patches' days, for ensurePartitions. */
export function daysOf(patches: readonly DayPatch[]): number[] {
  const days: number[] = [];
  for (let k = 0; k < patches.length; k++) days.push(patches[k]!.day);
  return days;
}

function byDayKey(a: DayPatch, b: DayPatch): number {
  return a.meterId - b.meterId || a.channel - b.channel || a.day - b.day;
}

/** writePatches' work inside its transaction (module-level functions: compiled once). */
interface SortedWrite {
  sorted: DayPatch[];
  batchId: number;
  reason: ChangeReason | undefined;
  user: string | null;
  collect: DayRow[] | undefined;
  beforeInsert: ((fresh: readonly DayRow[]) => Promise<AlongsideInsert | undefined>) | undefined;
  conflicted: DayPatch[] | undefined;
}

function takeMerge(
  c: WriteCounts,
  history: HistoryEntry[],
  collect: DayRow[] | undefined,
  m: MergeResult,
): void {
  c.accepted += m.accepted;
  c.unchanged += m.unchanged;
  c.changed += m.changed;
  for (let k = 0; k < m.history.length; k++) history.push(m.history[k]!);
  collect?.push(m.row);
}

async function writeSorted(tx: Queryable, w: SortedWrite): Promise<WriteCounts> {
  const { sorted, batchId, reason, collect } = w;
  const c: WriteCounts = { accepted: 0, unchanged: 0, changed: 0 };
  const history: HistoryEntry[] = [];
  const updates: DayRow[] = [];
  // New days are the common case (a head-end sends intervals it has not sent before): all
  // patches are offered as new rows first, and only the days already stored conflict, to be
  // locked and merged. A fresh file's chunk costs one statement instead of a look-up of every
  // key followed by the insert.
  const fresh: MergeResult[] = [];
  const freshRows: DayRow[] = [];
  for (let k = 0; k < sorted.length; k++) {
    const m = mergeDay(undefined, sorted[k]!, batchId, reason);
    fresh.push(m);
    freshRows.push(m.row);
  }
  const alongside = w.beforeInsert ? await w.beforeInsert(freshRows) : undefined;
  const inserted = await insertNewDays(tx, freshRows, alongside);
  const stored: DayPatch[] = [];
  for (let k = 0; k < sorted.length; k++) {
    const m = fresh[k]!;
    if (inserted.has(dayKey(m.row.meterId, m.row.channel, m.row.day)))
      takeMerge(c, history, collect, m);
    else stored.push(sorted[k]!);
  }
  if (stored.length) {
    w.conflicted?.push(...stored);
    const existing = await selectDaysForUpdate(tx, stored);
    for (const p of stored) {
      const row = existing.get(dayKey(p.meterId, p.channel, p.day));
      // The day conflicted, so it was stored; gone now means deleted in between (retention):
      // the transaction fails and is retried rather than merge into nothing.
      if (!row) {
        throw new Error(
          `day ${epochDayToDate(p.day)} of meter ${p.meterId} vanished while it was merged`,
        );
      }
      const m = mergeDay(row, p, batchId, reason);
      takeMerge(c, history, collect, m);
      if (m.dirty) updates.push(m.row);
    }
  }
  await updateDays(tx, updates);
  await insertHistory(tx, history, { batchId, user: w.user });
  return c;
}

/** Retries a transaction on serialization failure or deadlock (SQLSTATE 40001 / 40P01). */
export async function retryOnConflict<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (i >= attempts || (code !== '40001' && code !== '40P01')) throw err;
      await new Promise((r) => setTimeout(r, 10 * 2 ** i + Math.random() * 10));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reads

/** Day rows of one meter and channel for [fromDay, toDay] (epoch days), in day order. */
export async function readDays(
  db: Queryable,
  meterId: number,
  channel: 1 | 2,
  fromDay: number,
  toDay: number,
): Promise<DayRow[]> {
  const rows: DayRowRecord[] = await db.query(sql`
    SELECT ${DAY_COLUMNS}
    FROM reading_day
    WHERE meter_id = ${meterId} AND channel = ${channel}
      AND day BETWEEN ${epochDayToDate(fromDay)}::date AND ${epochDayToDate(toDay)}::date
    ORDER BY day`);
  return rows.map((r) => decodeDayRow({ ...r, day: epochDayToDate(Number(r.day)) }));
}

/** Day rows of many meters over a day range (a transformer's meters over a month). */
export async function readDaysForMeters(
  db: Queryable,
  meterIds: readonly number[],
  channel: 1 | 2,
  fromDay: number,
  toDay: number,
): Promise<DayRow[]> {
  if (meterIds.length === 0) return [];
  const rows: DayRowRecord[] = await db.query(sql`
    SELECT ${DAY_COLUMNS}
    FROM reading_day
    WHERE meter_id = ANY(${meterIds}::bigint[]) AND channel = ${channel}
      AND day BETWEEN ${epochDayToDate(fromDay)}::date AND ${epochDayToDate(toDay)}::date
    ORDER BY meter_id, day`);
  return rows.map((r) => decodeDayRow({ ...r, day: epochDayToDate(Number(r.day)) }));
}

export interface HistoryRecord {
  meterId: number;
  channel: 1 | 2;
  ts: number;
  version: number;
  value: number | null;
  quality: number | null;
  batchId: number | null;
  newValue: number | null;
  newQuality: number | null;
  reason: ChangeReason;
  changedByBatch: number | null;
  changedByUser: string | null;
  changedAt: Date;
}

export async function readHistory(
  db: Queryable,
  meterId: number,
  channel: 1 | 2,
  fromMs: number,
  toMs: number,
): Promise<HistoryRecord[]> {
  const rows: Array<Record<string, unknown>> = await db.query(sql`
    SELECT meter_id, channel, (extract(epoch FROM ts) * 1000)::float8 AS ts_ms, version, value,
           quality, batch_id, new_value, new_quality, reason, changed_by_batch, changed_by_user, changed_at
    FROM reading_history
    WHERE meter_id = ${meterId} AND channel = ${channel}
      AND ts >= to_timestamp(${fromMs / 1000}) AND ts < to_timestamp(${toMs / 1000})
    ORDER BY ts, version`);
  return rows.map((r) => ({
    meterId: Number(r.meter_id),
    channel: r.channel as 1 | 2,
    ts: Number(r.ts_ms),
    version: r.version as number,
    value: r.value as number | null,
    quality: r.quality as number | null,
    batchId: r.batch_id === null ? null : Number(r.batch_id),
    newValue: r.new_value as number | null,
    newQuality: r.new_quality as number | null,
    reason: r.reason as ChangeReason,
    changedByBatch: r.changed_by_batch === null ? null : Number(r.changed_by_batch),
    changedByUser: r.changed_by_user as string | null,
    changedAt: r.changed_at as Date,
  }));
}

// ---------------------------------------------------------------------------------------------
// Batches

export async function createBatch(
  db: Queryable,
  b: { source: string; format: string; createdBy?: string | null },
): Promise<number> {
  const [row] = await db.query(sql`
    INSERT INTO ingest_batch (source, format, created_by)
    VALUES (${b.source}, ${b.format}, ${b.createdBy ?? null}) RETURNING id`);
  return Number(row.id);
}

export async function finishBatch(
  db: Queryable,
  id: number,
  c: WriteCounts & { rejected: number },
): Promise<void> {
  await db.query(sql`
    UPDATE ingest_batch
    SET accepted = ${c.accepted}, unchanged = ${c.unchanged}, changed = ${c.changed},
        rejected = ${c.rejected}, finished_at = now()
    WHERE id = ${id}`);
}

export interface InstantRow {
  meterId: number;
  serial: string;
  value: number | null;
  quality: number | null;
}

/**
 * Every meter in scope that was installed at `atMs`, has the channel and the interval length,
 * with its reading at that interval (null when it did not report) — one query, meters in id
 * order. Scope: all meters, one transformer, or one feeder.
 */
export async function readInstantScope(
  db: Queryable,
  q: {
    atMs: number;
    channel: 'delivered' | 'received';
    intervalSeconds: number;
    transformerId?: number | null;
    feederId?: number | null;
  },
): Promise<InstantRow[]> {
  const day = Math.floor(q.atMs / 86_400_000);
  const index = (q.atMs - day * 86_400_000) / (q.intervalSeconds * 1000);
  const code = q.channel === 'delivered' ? 1 : 2;
  const scope =
    q.transformerId != null
      ? sql`AND sp.transformer_id = ${q.transformerId}`
      : q.feederId != null
        ? sql`AND sp.transformer_id IN (SELECT id FROM transformer WHERE feeder_id = ${q.feederId})`
        : sql``;
  const at = new Date(q.atMs);
  const rows: Array<{ id: number; serial: string; v: number | null; q: number | null }> =
    await db.query(sql`
      SELECT m.id, m.serial, r.vals[${index + 1}] AS v,
             CASE WHEN r.vals[${index + 1}] IS NULL THEN NULL ELSE get_byte(r.quality, ${index}) END AS q
      FROM meter m
      JOIN service_point sp ON sp.id = m.service_point_id
      LEFT JOIN reading_day r
        ON r.meter_id = m.id AND r.channel = ${code} AND r.day = ${epochDayToDate(day)}::date
      WHERE m.interval_seconds = ${q.intervalSeconds} AND ${q.channel} = ANY(m.channels)
        AND m.installed_at <= ${at} AND (m.removed_at IS NULL OR m.removed_at > ${at}) ${scope}
      ORDER BY m.id`);
  return rows.map((r) => ({
    meterId: Number(r.id),
    serial: r.serial,
    value: r.v,
    quality: r.q,
  }));
}

export interface BatchRecord {
  id: number;
  source: string;
  format: string;
  sourceSystem: string | null;
  commPath: string | null;
  fileId: number | null;
  receivedAt: Date;
}

export async function batchesByIds(db: Queryable, ids: readonly number[]): Promise<BatchRecord[]> {
  if (!ids.length) return [];
  const rows: Array<Record<string, unknown>> = await db.query(sql`
    SELECT id, source, format, source_system, comm_path, file_id, received_at
    FROM ingest_batch WHERE id = ANY(${[...new Set(ids)]}::bigint[])`);
  return rows.map((r) => ({
    id: Number(r.id),
    source: r.source as string,
    format: r.format as string,
    sourceSystem: (r.source_system as string | null) ?? null,
    commPath: (r.comm_path as string | null) ?? null,
    fileId: r.file_id === null ? null : Number(r.file_id),
    receivedAt: r.received_at as Date,
  }));
}
