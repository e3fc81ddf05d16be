/**
 * The baseline: a row per reading, columns as in the CSV, range-partitioned by month and
 * hash-subpartitioned by meter (4), PK (meter, channel, ts); loaded with psql \copy and served
 * by PostGraphile v4 through a SQL function.
 */
import { sql, type ConnectionPool } from '@databases/pg';

export const NAIVE_TABLE = 'readings_naive';
export const HASH_PARTITIONS = 4;

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** First day (UTC ms) of every month overlapping [fromMs, toMs). */
export function monthsCovering(fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  const d = new Date(fromMs);
  let m = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  while (m < toMs) {
    out.push(m);
    const n = new Date(m);
    m = Date.UTC(n.getUTCFullYear(), n.getUTCMonth() + 1, 1);
  }
  return out;
}

/** DDL of the naive table with all partitions for [fromMs, toMs), as one script. */
export function naiveSchemaSql(fromMs: number, toMs: number): string {
  const parts: string[] = [
    `CREATE TABLE ${NAIVE_TABLE} (
  meter_serial text NOT NULL,
  channel text NOT NULL,
  interval_start timestamptz NOT NULL,
  interval_seconds int NOT NULL,
  value real,
  unit text NOT NULL,
  PRIMARY KEY (meter_serial, channel, interval_start)
) PARTITION BY RANGE (interval_start);`,
  ];
  for (const m of monthsCovering(fromMs, toMs)) {
    const d = new Date(m);
    const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    const name = `${NAIVE_TABLE}_${d.toISOString().slice(0, 7).replace('-', '_')}`;
    parts.push(
      `CREATE TABLE ${name} PARTITION OF ${NAIVE_TABLE} FOR VALUES FROM ('${iso(m)}') TO ('${iso(next)}') PARTITION BY HASH (meter_serial);`,
    );
    for (let i = 0; i < HASH_PARTITIONS; i++) {
      parts.push(
        `CREATE TABLE ${name}_h${i} PARTITION OF ${name} FOR VALUES WITH (MODULUS ${HASH_PARTITIONS}, REMAINDER ${i});`,
      );
    }
  }
  // What PostGraphile exposes as Query.meterSeries; ordered like our series.
  parts.push(`CREATE FUNCTION meter_series(serial text, from_ts timestamptz, to_ts timestamptz)
RETURNS SETOF ${NAIVE_TABLE}
LANGUAGE sql STABLE AS $$
  SELECT * FROM ${NAIVE_TABLE}
  WHERE meter_serial = serial AND channel = 'delivered'
    AND interval_start >= from_ts AND interval_start < to_ts
  ORDER BY interval_start
$$;`);
  return parts.join('\n');
}

export function copyCommand(csvFile: string): string {
  return `\\copy ${NAIVE_TABLE} (meter_serial, channel, interval_start, interval_seconds, value, unit) FROM '${csvFile.replace(/'/g, "''")}' WITH (FORMAT csv, HEADER true)`;
}

/** Direct-SQL equivalents of instant(at:) and transformer(code){series}, for context only. */
export async function naiveInstant(
  db: ConnectionPool,
  atMs: number,
): Promise<{ reporting: number; total: number | null }> {
  const [r] = await db.query(sql`
    SELECT count(*)::int AS reporting, sum(value)::float8 AS total
    FROM readings_naive
    WHERE channel = 'delivered' AND interval_start = ${new Date(atMs)}::timestamptz`);
  return r;
}

export async function naiveTransformerSeries(
  db: ConnectionPool,
  serials: readonly string[],
  fromMs: number,
  toMs: number,
): Promise<number> {
  // The per-meter arrays plus the interval totals, as the GraphQL field returns them.
  const rows = await db.query(sql`
    WITH r AS (
      SELECT meter_serial, interval_start, value
      FROM readings_naive
      WHERE meter_serial = ANY(${serials}::text[]) AND channel = 'delivered'
        AND interval_start >= ${new Date(fromMs)}::timestamptz
        AND interval_start < ${new Date(toMs)}::timestamptz)
    SELECT meter_serial, array_agg(value ORDER BY interval_start) AS vals, NULL::float8[] AS total
    FROM r GROUP BY meter_serial
    UNION ALL
    SELECT NULL, NULL, array_agg(t ORDER BY interval_start)
    FROM (SELECT interval_start, sum(value)::float8 AS t FROM r GROUP BY interval_start) s`);
  return rows.length;
}
