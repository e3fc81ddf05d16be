/**
 * Statements of the write path, of VEE and of editing are planned over the month partitions
 * of reading_day that hold their days, not over every month the store keeps: a store with
 * years of months would otherwise plan and lock all of them for each chunk. Every statement
 * that names reading_day while a chunk is merged, validated and edited is captured as sent and
 * explained with its own parameters. Runs on PGlite, and on PostgreSQL when DATABASE_URL is set.
 */
import { sql, type SQLQuery } from '@databases/pg';
import { ingestItems } from '../../src/ingest/readings';
import { upsertTopology } from '../../src/storage/topology';
import { veeMeters } from '../../src/storage/vee';
import { editReadings } from '../../src/storage/vee-edit';
import { readings } from '../api/harness';
import { openTestDatabase, type TestDatabase } from '../helpers/db';
import { smallTopology } from '../helpers/fixtures';

let db: TestDatabase;
let captured: Array<{ query: SQLQuery; text: string }> | null = null;

beforeAll(async () => {
  db = await openTestDatabase({
    onQueryStart: (query, formatted) => {
      captured?.push({ query, text: formatted.text });
    },
  });
  await upsertTopology(db.pool, smallTopology());
  // Four years of months, as a store that keeps its history has.
  await db.pool.query(
    sql`SELECT meterdata_ensure_reading_partitions('2023-01-01'::date, '2026-12-31'::date)`,
  );
});
afterAll(async () => {
  await db.close();
});

const DAY = 86_400_000;
// Local midnight in New York (EST, UTC−5); the rules read 28 days of history before it.
const START = '2026-03-02T05:00:00Z';
const load = (i: number) => 0.2 + 0.1 * Math.sin((i * Math.PI) / 48) ** 2 + (i % 5) * 0.01;

/** The month partitions (reading_day_yyyy_mm) a plan reads or writes. */
function monthsInPlan(plan: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'Relation Name' && typeof v === 'string') {
          const m = /^reading_day_(\d{4}_\d{2})/.exec(v);
          if (m) out.add(m[1]!);
        } else walk(v);
      }
    }
  };
  walk(plan);
  return out;
}

/** The statements that read or write reading_day itself (not a partition by name). */
const ON_DAYS = /\b(FROM|JOIN|UPDATE)\s+reading_day\b/;

test('the write path, VEE and editing plan only the months of their days', async () => {
  const items = readings('M-1', START, 3 * 96, load);
  const now = Date.parse(START) + 10 * DAY;
  captured = [];
  let statements: Array<{ query: SQLQuery; text: string }>;
  try {
    const first = await ingestItems(db.pool, items, { source: 'test', format: 'json', now });
    expect(first.accepted).toBe(items.length);
    // A corrected resend: the stored days are locked, merged, updated and validated again.
    const resend = items.slice(0, 96).map((x) => ({ ...x, value: x.value + 0.5 }));
    const second = await ingestItems(db.pool, resend, { source: 'test', format: 'json', now });
    expect(second.changed).toBe(96);
    const meter = (await veeMeters(db.pool, [await meterId('M-1')])).values().next().value!;
    const from = Date.parse(START) + DAY + 8 * 900_000;
    const edited = await editReadings(
      db.pool,
      meter,
      'delivered',
      from,
      from + 4 * 900_000,
      { method: 'INTERPOLATE', reason: 'meter swap' },
      'alice',
    );
    expect(edited.intervals).toBe(4);
  } finally {
    statements = captured;
    captured = null;
  }
  const onDays = statements.filter((s) => ON_DAYS.test(s.text));
  // The data's days are in March; the rules' 28 days of history reach back into February.
  const allowed = new Set(['2026_02', '2026_03']);
  const seen = new Set<string>();
  for (const s of onDays) {
    const [row] = await db.pool.query(sql`EXPLAIN (FORMAT JSON) ${s.query}`);
    const raw: unknown = row['QUERY PLAN'];
    const months = monthsInPlan(typeof raw === 'string' ? JSON.parse(raw) : raw);
    const outside = [...months].filter((m) => !allowed.has(m));
    expect({ statement: s.text.trim().slice(0, 80), outside }).toEqual({
      statement: s.text.trim().slice(0, 80),
      outside: [],
    });
    for (const m of months) seen.add(m);
  }
  // Each kind of statement was there to be checked, and the plans did read the days' months.
  const kinds = {
    lockForMerge: onDays.some((s) => /FOR UPDATE/.test(s.text)),
    updateDays: onDays.some((s) => /UPDATE reading_day r\s+SET vals/.test(s.text)),
    veeRead: onDays.some((s) => /AS kind/.test(s.text)),
    editMethods: onDays.some((s) => /est_method/.test(s.text)),
  };
  expect(kinds).toEqual({ lockForMerge: true, updateDays: true, veeRead: true, editMethods: true });
  expect([...seen].sort()).toEqual(['2026_02', '2026_03']);
});

async function meterId(serial: string): Promise<number> {
  const [r] = await db.pool.query(sql`SELECT id FROM meter WHERE serial = ${serial}`);
  return Number(r.id);
}
