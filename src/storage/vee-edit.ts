/**
 * Operator changes to stored readings: estimation of missing (or failed) intervals with the VEE
 * core's estimateGaps, and manual edits. Each change goes through the merge (history keeps the
 * replaced versions), records the estimation method per interval (reading_day.est_method), is
 * audited in reading_audit (append-only) and is validated again, all in one transaction.
 */
import { sql, type ConnectionPool, type Queryable } from '@databases/pg';
import { DateTime } from 'luxon';
import { type Channel, channelCode, Quality } from '../domain/channel';
import { DAY_MS, type DayPatch, type DayRow, groupIntoPatches } from '../domain/readings';
import { buildSeries, type Series } from '../domain/series';
import {
  ESTIMATION_METHODS,
  estimateGaps,
  type EstimationMethod,
  type LikeDay,
} from '../domain/vee';
import { ErrorCode, MeterdataError } from '../errors';
import { epochDayToDate, intArrayLiteral } from './codec';
import {
  createBatch,
  daysOf,
  ensurePartitions,
  readDays,
  retryOnConflict,
  withinDays,
  writePatches,
} from './readings';
import { cachedRuleSets, runVee, VEE_HISTORY_DAYS, type VeeMeter } from './vee';

export interface ChangeResult {
  /** intervals whose value was set */
  intervals: number;
  /** the reading_audit row */
  auditId: number;
  /** per interval over the range: the new value (null where nothing was set) */
  values: Array<number | null>;
  methods: Array<string | null>;
}

/** est_method codes: ESTIMATION_METHODS index + 1 (0 = none). */
export function estimationMethodOf(code: number | null | undefined): EstimationMethod | null {
  return code ? (ESTIMATION_METHODS[code - 1] ?? null) : null;
}

async function writeChange(
  pool: ConnectionPool,
  meter: VeeMeter,
  channel: 1 | 2,
  range: { fromMs: number; toMs: number },
  before: Series,
  after: { values: Array<number | null>; quality: Array<number | null> },
  methods: Array<EstimationMethod | null> | null,
  audit: { action: 'edit' | 'estimate'; method: string | null; user: string; reason: string },
): Promise<ChangeResult> {
  const step = meter.intervalSeconds * 1000;
  const readings = [];
  const changed: Array<number | null> = [];
  for (let i = 0; i < after.values.length; i++) {
    const v = after.values[i];
    const q = after.quality[i];
    const differs =
      v !== null && v !== undefined && (v !== before.values[i] || q !== before.quality[i]);
    changed.push(differs ? v : null);
    if (!differs) continue;
    readings.push({
      meterId: meter.id,
      channel,
      ts: range.fromMs + i * step,
      intervalSeconds: meter.intervalSeconds,
      value: v,
      quality: q ?? Quality.MANUALLY_EDITED,
    });
  }
  const patches = groupIntoPatches(readings);
  await ensurePartitions(pool, daysOf(patches));
  const batchId = await createBatch(pool, {
    source: audit.action,
    format: 'vee',
    createdBy: audit.user,
  });
  const ruleSets = await cachedRuleSets(pool);
  const auditId = await retryOnConflict(() =>
    pool.tx(async (tx) => {
      await writePatches(pool, patches, batchId, {
        tx,
        reason: audit.action === 'edit' ? 'edit' : 'revee',
        user: audit.user,
      });
      await writeMethods(tx, patches, methods ? methodsByTs(range.fromMs, step, methods) : null);
      const [row] = await tx.query(sql`
        INSERT INTO reading_audit (meter_id, channel, from_ts, to_ts, action, method, changed_by,
                                   reason, old_values, new_values, old_quality, new_quality)
        VALUES (${meter.id}, ${channel}, to_timestamp(${range.fromMs / 1000}::float8),
                to_timestamp(${range.toMs / 1000}::float8), ${audit.action}, ${audit.method},
                ${audit.user}, ${audit.reason}, ${before.values}::real[], ${after.values}::real[],
                ${before.quality}::smallint[], ${after.quality}::smallint[])
        RETURNING id`);
      await runVee(tx, [{ meterId: meter.id, channel, fromMs: range.fromMs, toMs: range.toMs }], {
        ruleSets,
        now: Date.now(),
      });
      return Number(row.id);
    }),
  );
  return {
    intervals: readings.length,
    auditId,
    values: changed,
    methods: methods
      ? methods.map((m, i) => (changed[i] === null ? null : m))
      : changed.map(() => null),
  };
}

function methodsByTs(
  fromMs: number,
  step: number,
  methods: Array<EstimationMethod | null>,
): Map<number, number> {
  const m = new Map<number, number>();
  methods.forEach((x, i) => {
    if (x) m.set(fromMs + i * step, ESTIMATION_METHODS.indexOf(x) + 1);
  });
  return m;
}

/** Sets est_method of the patched intervals: the method code for estimates, 0 for edits. */
async function writeMethods(
  tx: Queryable,
  patches: readonly DayPatch[],
  codes: Map<number, number> | null,
): Promise<void> {
  if (!patches.length) return;
  const rows: Array<{
    meter_id: number;
    channel: number;
    day: number;
    est_method: number[] | null;
  }> = await tx.query(sql`
      SELECT r.meter_id, r.channel, (r.day - DATE '1970-01-01') AS day, r.est_method
      FROM unnest(${patches.map((p) => p.meterId)}::bigint[], ${patches.map((p) => p.channel)}::smallint[],
                  ${patches.map((p) => epochDayToDate(p.day))}::date[]) AS t(m, c, d)
      JOIN reading_day r ON r.meter_id = t.m AND r.channel = t.c AND r.day = t.d
        AND ${withinDays(sql`r.day`, daysOf(patches))}`);
  const byDay = new Map(rows.map((r) => [Number(r.day), r.est_method]));
  const upd: Array<{ p: DayPatch; codes: number[] | null }> = [];
  for (const p of patches) {
    const step = DAY_MS / p.intervalsPerDay;
    const cur = byDay.get(p.day) ?? null;
    const next = cur ? cur.slice() : new Array<number>(p.intervalsPerDay).fill(0);
    for (const i of p.idx) next[i] = codes?.get(p.day * DAY_MS + i * step) ?? 0;
    upd.push({ p, codes: next.some((c) => c !== 0) ? next : null });
  }
  await tx.query(sql`
    UPDATE reading_day r SET est_method = t.em::smallint[]
    FROM unnest(${upd.map((u) => u.p.meterId)}::bigint[], ${upd.map((u) => u.p.channel)}::smallint[],
                ${upd.map((u) => epochDayToDate(u.p.day))}::date[],
                ${upd.map((u) => intArrayLiteral(u.codes))}::text[]) AS t(m, c, d, em)
    WHERE r.meter_id = t.m AND r.channel = t.c AND r.day = t.d
      AND ${withinDays(
        sql`r.day`,
        upd.map((u) => u.p.day),
      )}`);
}

/** est_method of day rows laid on [fromMs, toMs) (null where none). */
export async function readMethods(
  db: Queryable,
  meterId: number,
  channel: 1 | 2,
  fromMs: number,
  toMs: number,
  intervalSeconds: number,
): Promise<Array<EstimationMethod | null>> {
  const step = intervalSeconds * 1000;
  const out = new Array<EstimationMethod | null>(Math.round((toMs - fromMs) / step)).fill(null);
  const rows: Array<{ day: number; est_method: number[] | null; quality: Buffer }> =
    await db.query(sql`
    SELECT (day - DATE '1970-01-01') AS day, est_method, quality FROM reading_day
    WHERE meter_id = ${meterId} AND channel = ${channel} AND est_method IS NOT NULL
      AND day BETWEEN ${epochDayToDate(Math.floor(fromMs / DAY_MS))}::date
                  AND ${epochDayToDate(Math.floor((toMs - 1) / DAY_MS))}::date`);
  for (const r of rows) {
    const dayStart = Number(r.day) * DAY_MS;
    r.est_method!.forEach((c, i) => {
      const k = (dayStart + i * step - fromMs) / step;
      // A later actual replaced the estimate when the quality is no longer a substitute.
      const q = r.quality[i]!;
      const estimated =
        q === Quality.ESTIMATED_HISTORY ||
        q === Quality.ESTIMATED_INTERPOLATION ||
        q === Quality.CALCULATED;
      if (k >= 0 && k < out.length && estimated) out[k] = estimationMethodOf(c);
    });
  }
  return out;
}

function checkChannel(meter: VeeMeter, channel: Channel): 1 | 2 {
  if (!meter.channels.includes(channel)) {
    throw new MeterdataError(
      ErrorCode.UNKNOWN_CHANNEL,
      `meter ${meter.serial} has no channel ${channel} (it has ${meter.channels.join(', ')})`,
    );
  }
  return channelCode(channel);
}

async function currentSeries(
  db: Queryable,
  meter: VeeMeter,
  channel: 1 | 2,
  fromMs: number,
  toMs: number,
): Promise<{ series: Series; rows: DayRow[] }> {
  const rows = await readDays(
    db,
    meter.id,
    channel,
    Math.floor(fromMs / DAY_MS),
    Math.floor((toMs - 1) / DAY_MS),
  );
  return { series: buildSeries(rows, fromMs, toMs, meter.intervalSeconds), rows };
}

/**
 * Fills the missing (and failed-validation) intervals of [fromMs, toMs) with estimateGaps: like
 * days from the stored, validated history before the range, interpolation across short gaps.
 */
export async function estimateReadings(
  pool: ConnectionPool,
  meter: VeeMeter,
  channelName: Channel,
  fromMs: number,
  toMs: number,
  user: string,
): Promise<ChangeResult> {
  const channel = checkChannel(meter, channelName);
  const histFrom = fromMs - VEE_HISTORY_DAYS * DAY_MS;
  const rows = await readDays(
    pool,
    meter.id,
    channel,
    Math.floor(histFrom / DAY_MS),
    Math.floor((toMs - 1) / DAY_MS),
  );
  const before = buildSeries(rows, fromMs, toMs, meter.intervalSeconds);
  const input: Series = {
    ...before,
    values: before.values.map((v, i) =>
      before.quality[i] === Quality.FAILED_VALIDATION ? null : v,
    ),
    quality: before.quality.map((q) => (q === Quality.FAILED_VALIDATION ? null : q)),
  };
  // Like days: each local day of the history, validated values only.
  const likeDays: LikeDay[] = [];
  let day = DateTime.fromMillis(histFrom, { zone: meter.timeZone }).startOf('day');
  while (day.toMillis() < fromMs) {
    const next = day.plus({ days: 1 });
    const s = buildSeries(rows, day.toMillis(), next.toMillis(), meter.intervalSeconds);
    if (s.values.some((v) => v !== null)) likeDays.push({ localDate: day.toISODate()!, series: s });
    day = next;
  }
  const est = estimateGaps({ series: input, timeZone: meter.timeZone, likeDays });
  const methods = est.method;
  const used = [...new Set(methods.filter((m): m is EstimationMethod => m !== null))];
  return writeChange(
    pool,
    meter,
    channel,
    { fromMs, toMs },
    before,
    { values: est.values.map((v, i) => (methods[i] ? v : null)), quality: est.quality },
    methods,
    { action: 'estimate', method: used.join(',') || null, user, reason: 'estimateReadings' },
  );
}

export type EditMethod = 'INTERPOLATE' | 'COPY_DAY' | 'SCALE';

export interface EditInput {
  values?: Array<number | null> | null;
  method?: EditMethod | null;
  /** local date (yyyy-mm-dd) to copy from, for COPY_DAY */
  sourceDay?: string | null;
  factor?: number | null;
  reason: string;
}

/** Sets [fromMs, toMs) to given values, or by a method; quality 7 (manually edited), reason edit. */
export async function editReadings(
  pool: ConnectionPool,
  meter: VeeMeter,
  channelName: Channel,
  fromMs: number,
  toMs: number,
  input: EditInput,
  user: string,
): Promise<ChangeResult> {
  const channel = checkChannel(meter, channelName);
  const bad = (m: string) => new MeterdataError(ErrorCode.BAD_USER_INPUT, m);
  if (!input.reason || !input.reason.trim()) throw bad('reason must not be empty');
  if (Boolean(input.values) === Boolean(input.method)) throw bad('pass either values or method');
  const step = meter.intervalSeconds * 1000;
  const n = Math.round((toMs - fromMs) / step);
  const { series: before } = await currentSeries(pool, meter, channel, fromMs, toMs);
  let values: Array<number | null>;
  if (input.values) {
    if (input.values.length !== n) {
      throw bad(
        `values must have one entry per interval of the range (${n}), got ${input.values.length}`,
      );
    }
    if (input.values.some((v) => v === null || !Number.isFinite(v) || v < 0)) {
      throw bad('values must be finite numbers ≥ 0');
    }
    values = input.values.slice();
  } else if (input.method === 'SCALE') {
    const f = input.factor;
    if (f === null || f === undefined || !Number.isFinite(f) || f < 0)
      throw bad('SCALE needs a factor ≥ 0');
    values = before.values.map((v) => (v === null ? null : v * f));
  } else if (input.method === 'INTERPOLATE') {
    const { series: around } = await currentSeries(
      pool,
      meter,
      channel,
      fromMs - step,
      toMs + step,
    );
    const a = around.values[0];
    const b = around.values[n + 1];
    if (a === null || a === undefined || b === null || b === undefined) {
      throw bad('INTERPOLATE needs values in the intervals just before and just after the range');
    }
    values = Array.from({ length: n }, (_, i) => a + ((b - a) * (i + 1)) / (n + 1));
  } else {
    if (!input.sourceDay || !/^\d{4}-\d{2}-\d{2}$/.test(input.sourceDay)) {
      throw bad('COPY_DAY needs sourceDay (yyyy-mm-dd, local date)');
    }
    const rangeDay = DateTime.fromMillis(fromMs, { zone: meter.timeZone }).startOf('day');
    const src = DateTime.fromISO(input.sourceDay, { zone: meter.timeZone }).startOf('day');
    if (!src.isValid) throw bad(`sourceDay ${input.sourceDay} is not a date`);
    const shift = src.toMillis() - rangeDay.toMillis();
    const { series: source } = await currentSeries(
      pool,
      meter,
      channel,
      fromMs + shift,
      toMs + shift,
    );
    values = source.values;
    if (values.some((v) => v === null))
      throw bad(`sourceDay ${input.sourceDay} has missing intervals in that range`);
  }
  const quality = values.map((v) => (v === null ? null : Quality.MANUALLY_EDITED));
  return writeChange(pool, meter, channel, { fromMs, toMs }, before, { values, quality }, null, {
    action: 'edit',
    method: input.method ?? 'VALUES',
    user,
    reason: input.reason.trim(),
  });
}

/** The reading_audit rows of a meter-channel overlapping [fromMs, toMs), oldest first. */
export async function readAudit(
  db: Queryable,
  meterId: number,
  channel: 1 | 2,
  fromMs: number,
  toMs: number,
): Promise<Array<Record<string, unknown>>> {
  return db.query(sql`
    SELECT id, action, method, changed_by, reason, from_ts, to_ts, old_values, new_values,
           old_quality, new_quality, changed_at
    FROM reading_audit
    WHERE meter_id = ${meterId} AND channel = ${channel}
      AND to_ts > to_timestamp(${fromMs / 1000}::float8) AND from_ts < to_timestamp(${toMs / 1000}::float8)
    ORDER BY id`);
}
