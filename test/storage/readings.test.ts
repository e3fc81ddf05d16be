import { sql } from '@databases/pg';
import { ingestItems } from '../../src/ingest/readings';
import { readDays, readHistory } from '../../src/storage/readings';
import { upsertTopology, metersBySerials } from '../../src/storage/topology';
import { ErrorCode } from '../../src/errors';
import { openTestDatabase, type TestDatabase } from '../helpers/db';
import { smallTopology } from '../helpers/fixtures';

let db: TestDatabase;
let m1: number;

beforeAll(async () => {
  db = await openTestDatabase();
  await upsertTopology(db.pool, smallTopology());
  [{ id: m1 }] = await metersBySerials(db.pool, ['M-1']).then((r) => r.map((m) => ({ id: m.id })));
});
afterAll(async () => db.close());

const day = (iso: string, n: number, f: (i: number) => number) =>
  Array.from({ length: n }, (_, i) => ({
    meterSerial: 'M-1',
    channel: 'delivered',
    intervalStart: new Date(Date.parse(iso) + i * 900_000).toISOString(),
    intervalSeconds: 900,
    value: f(i),
    unit: 'kWh',
  }));

test('a day of readings is stored in one row, and the same batch again changes nothing', async () => {
  const items = day('2025-03-01T00:00:00Z', 96, (i) => 0.25 + i / 1000);
  const first = await ingestItems(db.pool, items, { source: 'test', format: 'items' });
  expect(first).toMatchObject({ accepted: 96, unchanged: 0, changed: 0, rejected: 0 });
  const again = await ingestItems(db.pool, items, { source: 'test', format: 'items' });
  expect(again).toMatchObject({ accepted: 0, unchanged: 96, changed: 0, rejected: 0 });
  const rows = await readDays(db.pool, m1, 1, 20148, 20148);
  expect(rows).toHaveLength(1);
  expect(rows[0]!.vals[95]).toBeCloseTo(0.25 + 95 / 1000, 6);
  expect(rows[0]!.version).toBe(1);
  expect(rows[0]!.batches).toEqual([first.batchId]);
});

test('a changed value makes a new version and keeps the old one in history', async () => {
  const items = day('2025-03-02T00:00:00Z', 4, () => 1);
  const a = await ingestItems(db.pool, items, { source: 'test', format: 'items' });
  const changed = items.map((it, i) => (i === 2 ? { ...it, value: 2 } : it));
  const b = await ingestItems(db.pool, changed, { source: 'test', format: 'items' });
  expect(b).toMatchObject({ accepted: 0, unchanged: 3, changed: 1 });
  const [row] = await readDays(db.pool, m1, 1, 20149, 20149);
  expect(Array.from(row!.vals.slice(0, 4))).toEqual([1, 1, 2, 1]);
  expect(row!.versions?.slice(0, 4)).toEqual([1, 1, 2, 1]);
  const hist = await readHistory(
    db.pool,
    m1,
    1,
    Date.parse('2025-03-02T00:00:00Z'),
    Date.parse('2025-03-03T00:00:00Z'),
  );
  expect(hist).toHaveLength(1);
  expect(hist[0]).toMatchObject({
    version: 1,
    value: 1,
    newValue: 2,
    reason: 'corrected_resend',
    batchId: a.batchId,
    changedByBatch: b.batchId,
  });
});

test('partitions are created for back-filled months', async () => {
  const items = day('2021-07-15T00:00:00Z', 2, () => 0.5);
  const r = await ingestItems(db.pool, items, { source: 'test', format: 'items' });
  expect(r.accepted).toBe(2);
  const parts: Array<{ relname: string }> = await db.pool.query(
    sql`SELECT relname FROM pg_class WHERE relname LIKE 'reading_day_2021_07%' AND relkind IN ('r', 'p') ORDER BY relname`,
  );
  expect(parts.map((p) => p.relname)).toEqual([
    'reading_day_2021_07',
    'reading_day_2021_07_h0',
    'reading_day_2021_07_h1',
    'reading_day_2021_07_h2',
    'reading_day_2021_07_h3',
  ]);
});

test('bad items are rejected with codes and nothing of them is stored', async () => {
  const base = day('2025-04-01T00:00:00Z', 1, () => 1)[0]!;
  const bad = [
    { ...base, value: 'NaN' },
    { ...base, value: 'Infinity' },
    { ...base, value: '1e309' },
    { ...base, value: '1,5' },
    { ...base, unit: 'kW' },
    { ...base, meterSerial: 'NOPE' },
    { ...base, intervalStart: '1970-01-01T00:00:00Z' },
    { ...base, intervalStart: '9999-01-01T00:00:00Z' },
    { ...base, intervalStart: '2025-04-01T00:07:00Z' },
    { ...base, intervalStart: '2025-04-01T00:00:00' },
    { ...base, intervalSeconds: 300 },
    { ...base, channel: 'sideways' },
  ];
  const r = await ingestItems(db.pool, bad, { source: 'test', format: 'items' });
  expect(r).toMatchObject({ accepted: 0, unchanged: 0, changed: 0, rejected: bad.length });
  expect(r.rejections.map((x) => x.code)).toEqual([
    ErrorCode.BAD_VALUE,
    ErrorCode.BAD_VALUE,
    ErrorCode.BAD_VALUE,
    ErrorCode.BAD_VALUE,
    ErrorCode.BAD_UNIT,
    ErrorCode.UNKNOWN_METER,
    ErrorCode.BAD_TIMESTAMP,
    ErrorCode.FUTURE_TIMESTAMP,
    ErrorCode.MISALIGNED_INTERVAL,
    ErrorCode.BAD_TIMESTAMP,
    ErrorCode.INTERVAL_LENGTH_MISMATCH,
    ErrorCode.UNKNOWN_CHANNEL,
  ]);
  expect(await readDays(db.pool, m1, 1, 20179, 20179)).toEqual([]);
});

test('Wh input is normalised to kWh', async () => {
  const items = day('2025-05-01T00:00:00Z', 1, () => 1500).map((i) => ({ ...i, unit: 'Wh' }));
  await ingestItems(db.pool, items, { source: 'test', format: 'items' });
  const [row] = await readDays(db.pool, m1, 1, 20209, 20209);
  expect(row!.vals[0]).toBe(1.5);
});
