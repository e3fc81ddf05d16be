/**
 * SQL of aggregates under the privacy rule: the meters of a fixed topology group with their
 * customer and place in the tree, and per-meter energy of one day and one slot of it.
 */
import { sql, type Queryable } from '@databases/pg';
import { epochDayToDate } from './codec';

export type GroupLevel = 'system' | 'substation' | 'feeder' | 'transformer';

export interface GroupMember {
  meterId: number;
  intervalSeconds: number;
  installedMs: number;
  removedMs: number | null;
  /** the account (`a<id>`), or the service point when it has none (`sp<id>`) */
  customer: string;
  transformerId: number;
  feederId: number;
  substationId: number;
}

/** Every meter of the group with the channel, in id order. */
export async function groupMembers(
  db: Queryable,
  group: { level: GroupLevel; id: number | null },
  channel: 'delivered' | 'received',
): Promise<GroupMember[]> {
  const scope =
    group.level === 'transformer'
      ? sql`AND sp.transformer_id = ${group.id}`
      : group.level === 'feeder'
        ? sql`AND t.feeder_id = ${group.id}`
        : group.level === 'substation'
          ? sql`AND f.substation_id = ${group.id}`
          : sql``;
  const rows: Array<Record<string, unknown>> = await db.query(sql`
    SELECT m.id, m.interval_seconds,
           (extract(epoch FROM m.installed_at) * 1000)::float8 AS installed_ms,
           (extract(epoch FROM m.removed_at) * 1000)::float8 AS removed_ms,
           COALESCE('a' || sp.account_id::text, 'sp' || sp.id::text) AS customer,
           sp.transformer_id, t.feeder_id, f.substation_id
    FROM meter m
    JOIN service_point sp ON sp.id = m.service_point_id
    JOIN transformer t ON t.id = sp.transformer_id
    JOIN feeder f ON f.id = t.feeder_id
    WHERE ${channel} = ANY(m.channels) ${scope}
    ORDER BY m.id`);
  return rows.map((r) => ({
    meterId: Number(r.id),
    intervalSeconds: Number(r.interval_seconds),
    installedMs: Number(r.installed_ms),
    removedMs: r.removed_ms === null ? null : Number(r.removed_ms),
    customer: r.customer as string,
    transformerId: Number(r.transformer_id),
    feederId: Number(r.feeder_id),
    substationId: Number(r.substation_id),
  }));
}

export interface DaySlotSum {
  meterId: number;
  /** kWh over the day; null when the meter has no reading that day */
  day: number | null;
  /** every interval of the day has a reading */
  complete: boolean;
  /** kWh over the slot; null when no reading in it (or the meter's intervals do not fit it) */
  slot: number | null;
}

/**
 * Per meter, the energy of one UTC day (and whether every interval of it has a reading) and of
 * the slot [offsetSeconds, offsetSeconds + slotSeconds) of that day, summed in the database
 * (meters without a row that day are absent).
 */
export async function daySlotSums(
  db: Queryable,
  meterIds: readonly number[],
  channel: 1 | 2,
  day: number,
  offsetSeconds: number,
  slotSeconds: number,
): Promise<DaySlotSum[]> {
  if (meterIds.length === 0) return [];
  const rows: Array<{
    meter_id: number;
    day_sum: number | null;
    complete: boolean;
    slot_sum: number | null;
  }> = await db.query(sql`
      SELECT r.meter_id,
             (SELECT sum(v::float8) FROM unnest(r.vals) AS v) AS day_sum,
             (SELECT count(v) FROM unnest(r.vals) AS v) = array_length(r.vals, 1) AS complete,
             CASE WHEN (${slotSeconds}::int * array_length(r.vals, 1)) % 86400 = 0 THEN
               (SELECT sum(v::float8) FROM unnest(r.vals[
                  (${offsetSeconds}::int * array_length(r.vals, 1) / 86400) + 1
                  : ((${offsetSeconds}::int + ${slotSeconds}::int) * array_length(r.vals, 1) / 86400)]) AS v)
             END AS slot_sum
      FROM reading_day r
      WHERE r.meter_id = ANY(${[...meterIds]}::bigint[]) AND r.channel = ${channel}
        AND r.day = ${epochDayToDate(day)}::date`);
  return rows.map((r) => ({
    meterId: Number(r.meter_id),
    day: r.day_sum === null ? null : Number(r.day_sum),
    complete: r.complete === true,
    slot: r.slot_sum === null ? null : Number(r.slot_sum),
  }));
}
