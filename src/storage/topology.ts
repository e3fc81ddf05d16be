/**
 * SQL of the topology: set-based upserts by natural key (code / serial), so re-importing a
 * GIS or customer-system export updates rows and never duplicates them; lookups by id and by
 * parent for the GraphQL loaders; filtered, cursor-paged meter listing.
 */
import { sql, type Queryable } from '@databases/pg';
import { type MeterRef } from '../domain/readings';
import {
  type CommPath,
  type CustomerClass,
  type MeterStatus,
  type Phase,
  type TopologyDoc,
} from '../domain/topology';
import { type Channel } from '../domain/channel';
import { type MeterClass } from '../domain/vee';

export interface TopologyCounts {
  substations: number;
  feeders: number;
  transformers: number;
  accounts: number;
  servicePoints: number;
  meters: number;
}

/**
 * Upserts a validated topology document in one transaction (the caller validates references
 * with domain/topology-validate first; a missing parent here is a foreign-key error). A name
 * left out keeps the stored one (the topology CSV has no names); a null name clears it.
 */
export async function upsertTopology(db: Queryable, doc: TopologyDoc): Promise<TopologyCounts> {
  return db.tx(async (tx) => {
    if (doc.substations.length) {
      await tx.query(sql`
        INSERT INTO substation (code, name)
        SELECT t.code, CASE WHEN t.named THEN t.name ELSE s.name END
        FROM unnest(${doc.substations.map((s) => s.code)}::text[], ${doc.substations.map((s) => s.name ?? null)}::text[],
                    ${doc.substations.map((s) => s.name !== undefined)}::boolean[]) AS t(code, name, named)
        LEFT JOIN substation s ON s.code = t.code
        ON CONFLICT (code) DO UPDATE SET name = excluded.name, updated_at = now()
        WHERE substation.name IS DISTINCT FROM excluded.name`);
    }
    if (doc.feeders.length) {
      await tx.query(sql`
        INSERT INTO feeder (code, substation_id, name)
        SELECT t.code, s.id, CASE WHEN t.named THEN t.name ELSE f.name END
        FROM unnest(${doc.feeders.map((f) => f.code)}::text[], ${doc.feeders.map((f) => f.substation)}::text[], ${doc.feeders.map((f) => f.name ?? null)}::text[],
                    ${doc.feeders.map((f) => f.name !== undefined)}::boolean[]) AS t(code, sub, name, named)
        JOIN substation s ON s.code = t.sub
        LEFT JOIN feeder f ON f.code = t.code
        ON CONFLICT (code) DO UPDATE SET substation_id = excluded.substation_id, name = excluded.name, updated_at = now()
        WHERE (feeder.substation_id, feeder.name) IS DISTINCT FROM (excluded.substation_id, excluded.name)`);
    }
    if (doc.transformers.length) {
      await tx.query(sql`
        INSERT INTO transformer (code, feeder_id, rated_kva, phase)
        SELECT t.code, f.id, t.kva, t.phase
        FROM unnest(${doc.transformers.map((t) => t.code)}::text[], ${doc.transformers.map((t) => t.feeder)}::text[],
                    ${doc.transformers.map((t) => t.ratedKva)}::float8[], ${doc.transformers.map((t) => t.phase)}::text[]) AS t(code, feeder, kva, phase)
        JOIN feeder f ON f.code = t.feeder
        ON CONFLICT (code) DO UPDATE SET feeder_id = excluded.feeder_id, rated_kva = excluded.rated_kva, phase = excluded.phase, updated_at = now()
        WHERE (transformer.feeder_id, transformer.rated_kva, transformer.phase) IS DISTINCT FROM (excluded.feeder_id, excluded.rated_kva, excluded.phase)`);
    }
    if (doc.accounts.length) {
      await tx.query(sql`
        INSERT INTO account (code, name, customer_class)
        SELECT t.code, CASE WHEN t.named THEN t.name ELSE a.name END, t.class
        FROM unnest(${doc.accounts.map((a) => a.code)}::text[], ${doc.accounts.map((a) => a.name ?? null)}::text[], ${doc.accounts.map((a) => a.customerClass)}::text[],
                    ${doc.accounts.map((a) => a.name !== undefined)}::boolean[]) AS t(code, name, class, named)
        LEFT JOIN account a ON a.code = t.code
        ON CONFLICT (code) DO UPDATE SET name = excluded.name, customer_class = excluded.customer_class, updated_at = now()
        WHERE (account.name, account.customer_class) IS DISTINCT FROM (excluded.name, excluded.customer_class)`);
    }
    if (doc.servicePoints.length) {
      const sp = doc.servicePoints;
      await tx.query(sql`
        INSERT INTO service_point (code, transformer_id, premise, account_id, time_zone)
        SELECT t.code, tr.id, t.premise, a.id, t.tz
        FROM unnest(${sp.map((s) => s.code)}::text[], ${sp.map((s) => s.transformer)}::text[], ${sp.map((s) => s.premise)}::text[],
                    ${sp.map((s) => s.account ?? null)}::text[], ${sp.map((s) => s.timeZone)}::text[]) AS t(code, tr, premise, acct, tz)
        JOIN transformer tr ON tr.code = t.tr
        LEFT JOIN account a ON a.code = t.acct
        ON CONFLICT (code) DO UPDATE SET transformer_id = excluded.transformer_id, premise = excluded.premise,
          account_id = excluded.account_id, time_zone = excluded.time_zone, updated_at = now()
        WHERE (service_point.transformer_id, service_point.premise, service_point.account_id, service_point.time_zone)
          IS DISTINCT FROM (excluded.transformer_id, excluded.premise, excluded.account_id, excluded.time_zone)`);
    }
    if (doc.meters.length) {
      const m = doc.meters;
      await tx.query(sql`
        INSERT INTO meter (serial, mrid, service_point_id, multiplier, unit, interval_seconds, channels,
                           installed_at, removed_at, status, comm_path)
        SELECT t.serial, t.mrid, sp.id, t.mult, t.unit, t.isec, string_to_array(t.ch, ','), t.inst, t.rem, t.status, t.comm
        FROM unnest(${m.map((x) => x.serial)}::text[], ${m.map((x) => x.mrid ?? null)}::text[], ${m.map((x) => x.servicePoint)}::text[],
                    ${m.map((x) => x.multiplier ?? 1)}::float8[], ${m.map((x) => x.unit ?? 'kWh')}::text[],
                    ${m.map((x) => x.intervalSeconds ?? 900)}::int[], ${m.map((x) => (x.channels ?? ['delivered']).join(','))}::text[],
                    ${m.map((x) => x.installedAt)}::timestamptz[], ${m.map((x) => x.removedAt ?? null)}::timestamptz[],
                    ${m.map((x) => x.status ?? 'ACTIVE')}::text[], ${m.map((x) => x.commPath)}::text[])
             AS t(serial, mrid, sp, mult, unit, isec, ch, inst, rem, status, comm)
        JOIN service_point sp ON sp.code = t.sp
        ON CONFLICT (serial) DO UPDATE SET mrid = excluded.mrid, service_point_id = excluded.service_point_id,
          multiplier = excluded.multiplier, unit = excluded.unit, interval_seconds = excluded.interval_seconds,
          channels = excluded.channels, installed_at = excluded.installed_at, removed_at = excluded.removed_at,
          status = excluded.status, comm_path = excluded.comm_path, updated_at = now()
        WHERE (meter.mrid, meter.service_point_id, meter.multiplier, meter.unit, meter.interval_seconds, meter.channels,
               meter.installed_at, meter.removed_at, meter.status, meter.comm_path)
          IS DISTINCT FROM (excluded.mrid, excluded.service_point_id, excluded.multiplier, excluded.unit,
               excluded.interval_seconds, excluded.channels, excluded.installed_at, excluded.removed_at,
               excluded.status, excluded.comm_path)`);
    }
    return {
      substations: doc.substations.length,
      feeders: doc.feeders.length,
      transformers: doc.transformers.length,
      accounts: doc.accounts.length,
      servicePoints: doc.servicePoints.length,
      meters: doc.meters.length,
    };
  });
}

/** Which of the given codes exist, per table (for reference validation before an upsert). */
export async function existingCodes(
  db: Queryable,
  table: 'substation' | 'feeder' | 'transformer' | 'account' | 'service_point',
  codes: readonly string[],
): Promise<Set<string>> {
  if (codes.length === 0) return new Set();
  const t = sql.ident(table);
  const rows: Array<{ code: string }> = await db.query(
    sql`SELECT code FROM ${t} WHERE code = ANY(${[...new Set(codes)]}::text[])`,
  );
  return new Set(rows.map((r) => r.code));
}

// ---------------------------------------------------------------------------------------------
// Records as the API sees them

export interface SubstationRecord {
  id: number;
  code: string;
  name: string | null;
}
export interface FeederRecord {
  id: number;
  code: string;
  name: string | null;
  substationId: number;
}
export interface TransformerRecord {
  id: number;
  code: string;
  feederId: number;
  ratedKva: number;
  phase: Phase;
}
export interface AccountRecord {
  id: number;
  code: string;
  name: string | null;
  customerClass: CustomerClass;
}
export interface ServicePointRecord {
  id: number;
  code: string;
  transformerId: number;
  premise: string;
  accountId: number | null;
  timeZone: string;
}
export interface MeterRecord {
  id: number;
  serial: string;
  mrid: string | null;
  servicePointId: number;
  multiplier: number;
  unit: string;
  intervalSeconds: number;
  channels: Channel[];
  installedAt: Date;
  removedAt: Date | null;
  status: MeterStatus;
  commPath: CommPath;
  /** denormalised for filters and time-zone work */
  transformerId: number;
  feederId: number;
  timeZone: string;
  /** the VEE rule set's class: the account's customer class, RESIDENTIAL without an account */
  meterClass: MeterClass;
}

type Row = Record<string, unknown>;
const n = (v: unknown): number => Number(v);
const nn = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

const METER_SELECT = sql`
  SELECT m.id, m.serial, m.mrid, m.service_point_id, m.multiplier, m.unit, m.interval_seconds, m.channels,
         m.installed_at, m.removed_at, m.status, m.comm_path, sp.transformer_id, t.feeder_id, sp.time_zone,
         COALESCE(a.customer_class, 'RESIDENTIAL') AS meter_class
  FROM meter m
  JOIN service_point sp ON sp.id = m.service_point_id
  JOIN transformer t ON t.id = sp.transformer_id
  LEFT JOIN account a ON a.id = sp.account_id`;

function toMeter(r: Row): MeterRecord {
  return {
    id: n(r.id),
    serial: r.serial as string,
    mrid: (r.mrid as string | null) ?? null,
    servicePointId: n(r.service_point_id),
    multiplier: n(r.multiplier),
    unit: r.unit as string,
    intervalSeconds: n(r.interval_seconds),
    channels: r.channels as Channel[],
    installedAt: r.installed_at as Date,
    removedAt: (r.removed_at as Date | null) ?? null,
    status: r.status as MeterStatus,
    commPath: r.comm_path as CommPath,
    transformerId: n(r.transformer_id),
    feederId: n(r.feeder_id),
    timeZone: r.time_zone as string,
    meterClass: r.meter_class as MeterClass,
  };
}

export function meterRef(m: MeterRecord): MeterRef {
  return {
    id: m.id,
    serial: m.serial,
    intervalSeconds: m.intervalSeconds,
    channels: m.channels,
    installedAt: m.installedAt.getTime(),
    removedAt: m.removedAt ? m.removedAt.getTime() : null,
  };
}

export async function metersByIds(db: Queryable, ids: readonly number[]): Promise<MeterRecord[]> {
  if (ids.length === 0) return [];
  const rows: Row[] = await db.query(sql`${METER_SELECT} WHERE m.id = ANY(${ids}::bigint[])`);
  return rows.map(toMeter);
}

export async function metersBySerials(
  db: Queryable,
  serials: readonly string[],
): Promise<MeterRecord[]> {
  if (serials.length === 0) return [];
  const rows: Row[] = await db.query(
    sql`${METER_SELECT} WHERE m.serial = ANY(${[...new Set(serials)]}::text[])`,
  );
  return rows.map(toMeter);
}

export interface MeterFilter {
  transformerIds?: number[] | null;
  feederIds?: number[] | null;
  substationIds?: number[] | null;
  servicePointIds?: number[] | null;
  accountIds?: number[] | null;
  statuses?: MeterStatus[] | null;
  commPaths?: CommPath[] | null;
}

/** Keyset-paged meters ordered by id: `after` is the last id of the previous page. */
export async function listMeters(
  db: Queryable,
  filter: MeterFilter,
  first: number,
  afterId: number | null,
): Promise<{ meters: MeterRecord[]; hasNextPage: boolean; totalCount: number }> {
  const conds = [sql`true`];
  if (filter.transformerIds)
    conds.push(sql`sp.transformer_id = ANY(${filter.transformerIds}::bigint[])`);
  if (filter.feederIds) conds.push(sql`t.feeder_id = ANY(${filter.feederIds}::bigint[])`);
  if (filter.substationIds) {
    conds.push(
      sql`t.feeder_id IN (SELECT id FROM feeder WHERE substation_id = ANY(${filter.substationIds}::bigint[]))`,
    );
  }
  if (filter.servicePointIds)
    conds.push(sql`m.service_point_id = ANY(${filter.servicePointIds}::bigint[])`);
  if (filter.accountIds) conds.push(sql`sp.account_id = ANY(${filter.accountIds}::bigint[])`);
  if (filter.statuses) conds.push(sql`m.status = ANY(${filter.statuses}::text[])`);
  if (filter.commPaths) conds.push(sql`m.comm_path = ANY(${filter.commPaths}::text[])`);
  const where = sql.join(conds, sql` AND `);
  const page: Row[] = await db.query(sql`
    ${METER_SELECT}
    WHERE ${where} ${afterId !== null ? sql`AND m.id > ${afterId}` : sql``}
    ORDER BY m.id LIMIT ${first + 1}`);
  const [{ count }] = await db.query(sql`
    SELECT count(*)::int AS count FROM meter m
    JOIN service_point sp ON sp.id = m.service_point_id
    JOIN transformer t ON t.id = sp.transformer_id
    WHERE ${where}`);
  return {
    meters: page.slice(0, first).map(toMeter),
    hasNextPage: page.length > first,
    totalCount: Number(count),
  };
}

export async function substationsByIds(
  db: Queryable,
  ids: readonly number[],
): Promise<SubstationRecord[]> {
  if (!ids.length) return [];
  const rows: Row[] = await db.query(
    sql`SELECT id, code, name FROM substation WHERE id = ANY(${ids}::bigint[])`,
  );
  return rows.map((r) => ({
    id: n(r.id),
    code: r.code as string,
    name: (r.name as string) ?? null,
  }));
}
export async function feedersByIds(db: Queryable, ids: readonly number[]): Promise<FeederRecord[]> {
  if (!ids.length) return [];
  const rows: Row[] = await db.query(
    sql`SELECT id, code, name, substation_id FROM feeder WHERE id = ANY(${ids}::bigint[])`,
  );
  return rows.map(toFeeder);
}
export async function transformersByIds(
  db: Queryable,
  ids: readonly number[],
): Promise<TransformerRecord[]> {
  if (!ids.length) return [];
  const rows: Row[] = await db.query(
    sql`SELECT id, code, feeder_id, rated_kva, phase FROM transformer WHERE id = ANY(${ids}::bigint[])`,
  );
  return rows.map(toTransformer);
}
export async function servicePointsByIds(
  db: Queryable,
  ids: readonly number[],
): Promise<ServicePointRecord[]> {
  if (!ids.length) return [];
  const rows: Row[] = await db.query(
    sql`SELECT id, code, transformer_id, premise, account_id, time_zone FROM service_point WHERE id = ANY(${ids}::bigint[])`,
  );
  return rows.map(toServicePoint);
}
export async function accountsByIds(
  db: Queryable,
  ids: readonly number[],
): Promise<AccountRecord[]> {
  if (!ids.length) return [];
  const rows: Row[] = await db.query(
    sql`SELECT id, code, name, customer_class FROM account WHERE id = ANY(${ids}::bigint[])`,
  );
  return rows.map((r) => ({
    id: n(r.id),
    code: r.code as string,
    name: (r.name as string) ?? null,
    customerClass: r.customer_class as CustomerClass,
  }));
}

/** Children by parent id, for the one-to-many edges (batched per request by the loaders). */
export async function feedersBySubstation(
  db: Queryable,
  ids: readonly number[],
): Promise<FeederRecord[]> {
  if (!ids.length) return [];
  const rows: Row[] = await db.query(
    sql`SELECT id, code, name, substation_id FROM feeder WHERE substation_id = ANY(${ids}::bigint[]) ORDER BY code`,
  );
  return rows.map(toFeeder);
}
export async function transformersByFeeder(
  db: Queryable,
  ids: readonly number[],
): Promise<TransformerRecord[]> {
  if (!ids.length) return [];
  const rows: Row[] = await db.query(
    sql`SELECT id, code, feeder_id, rated_kva, phase FROM transformer WHERE feeder_id = ANY(${ids}::bigint[]) ORDER BY code`,
  );
  return rows.map(toTransformer);
}
export async function servicePointsByTransformer(
  db: Queryable,
  ids: readonly number[],
): Promise<ServicePointRecord[]> {
  if (!ids.length) return [];
  const rows: Row[] = await db.query(
    sql`SELECT id, code, transformer_id, premise, account_id, time_zone FROM service_point WHERE transformer_id = ANY(${ids}::bigint[]) ORDER BY code`,
  );
  return rows.map(toServicePoint);
}
export async function metersByServicePoint(
  db: Queryable,
  ids: readonly number[],
): Promise<MeterRecord[]> {
  if (!ids.length) return [];
  const rows: Row[] = await db.query(
    sql`${METER_SELECT} WHERE m.service_point_id = ANY(${ids}::bigint[]) ORDER BY m.serial`,
  );
  return rows.map(toMeter);
}
export async function metersByTransformer(
  db: Queryable,
  ids: readonly number[],
): Promise<MeterRecord[]> {
  if (!ids.length) return [];
  const rows: Row[] = await db.query(
    sql`${METER_SELECT} WHERE sp.transformer_id = ANY(${ids}::bigint[]) ORDER BY m.serial`,
  );
  return rows.map(toMeter);
}

export async function nodeIdByCode(
  db: Queryable,
  table: 'substation' | 'feeder' | 'transformer' | 'account' | 'service_point',
  code: string,
): Promise<number | null> {
  const rows: Row[] = await db.query(sql`SELECT id FROM ${sql.ident(table)} WHERE code = ${code}`);
  return rows.length ? n(rows[0]!.id) : null;
}

export async function listSubstations(db: Queryable): Promise<SubstationRecord[]> {
  const rows: Row[] = await db.query(sql`SELECT id, code, name FROM substation ORDER BY code`);
  return rows.map((r) => ({
    id: n(r.id),
    code: r.code as string,
    name: (r.name as string) ?? null,
  }));
}

export async function countMeters(db: Queryable): Promise<number> {
  const [r] = await db.query(sql`SELECT count(*)::int AS c FROM meter`);
  return n(r.c);
}

function toFeeder(r: Row): FeederRecord {
  return {
    id: n(r.id),
    code: r.code as string,
    name: (r.name as string) ?? null,
    substationId: n(r.substation_id),
  };
}
function toTransformer(r: Row): TransformerRecord {
  return {
    id: n(r.id),
    code: r.code as string,
    feederId: n(r.feeder_id),
    ratedKva: n(r.rated_kva),
    phase: r.phase as Phase,
  };
}
function toServicePoint(r: Row): ServicePointRecord {
  return {
    id: n(r.id),
    code: r.code as string,
    transformerId: n(r.transformer_id),
    premise: r.premise as string,
    accountId: nn(r.account_id),
    timeZone: r.time_zone as string,
  };
}
