/**
 * Estimation and editing over GraphQL: estimates written with quality and method, a late actual
 * replacing an estimate (history keeps the estimate), edits with reason and user in the history
 * and the audit. PGlite, and PostgreSQL when DATABASE_URL is set.
 */
import { sql } from '@databases/pg';
import { internalIdentity } from '../../src/auth/identity';
import { ingestItems } from '../../src/ingest/readings';
import { openApi, readings, type Api } from '../api/harness';

let api: Api;
const op = () => api.gw.context(null, internalIdentity('operator', { name: 'olga' }));
const gql = (q: string, v?: Record<string, unknown>) => api.gql(q, v, op());

const DAY = 86_400_000;
const STEP = 900_000;
const START = '2026-01-05T05:00:00Z'; // local midnight, New York, a Monday
const T0 = Date.parse(START);
const load = (i: number) => 0.2 + 0.15 * Math.sin((i * Math.PI) / 48) ** 2 + (i % 7) * 0.01;
const HIST = 14;
const D = HIST * 96; // first interval of the day under test
const LONG = [40, 60]; // a 5-hour gap: like day
const SHORT = [70, 73]; // 45 minutes: interpolation
const inGap = (k: number) =>
  (k >= D + LONG[0]! && k < D + LONG[1]!) || (k >= D + SHORT[0]! && k < D + SHORT[1]!);
const all = readings('M-1', START, (HIST + 1) * 96, load);
const iso = (k: number) => new Date(T0 + k * STEP).toISOString();
const ingest = (items: typeof all) =>
  ingestItems(api.db.pool, items, { source: 'test', format: 'json', now: T0 + 40 * DAY });

const DAYQ = `query($f: DateTime!, $t: DateTime!) { meter(serial: "M-1") {
  series(from: $f, to: $t) { values quality }
  estimationMethods(from: $f, to: $t)
  veeSummary(from: $f, to: $t) { estimated edited missing }
  history(from: $f, to: $t) { start value quality newValue newQuality reason changedByUser }
} }`;
const day = () => gql(DAYQ, { f: iso(D), t: iso(D + 96) });

beforeAll(async () => {
  api = await openApi();
  await ingest(all.filter((_, k) => !inGap(k)));
});
afterAll(async () => {
  await api.close();
});

test('estimateReadings fills the gaps with like-day and interpolated values', async () => {
  const r = await gql(
    `mutation($f: DateTime!, $t: DateTime!) { estimateReadings(meterSerial: "M-1", from: $f, to: $t) { intervals auditId methods } }`,
    { f: iso(D), t: iso(D + 96) },
  );
  expect(r.errors).toBeUndefined();
  expect(r.data.estimateReadings.intervals).toBe(23);
  const d = await day();
  const { series, estimationMethods, veeSummary } = d.data.meter;
  expect(series.quality[LONG[0]!]).toBe(8);
  expect(estimationMethods[LONG[0]!]).toBe('like_day');
  expect(series.quality[SHORT[0]!]).toBe(9);
  expect(estimationMethods[SHORT[0]!]).toBe('linear');
  expect(estimationMethods[0]).toBeNull();
  expect(series.values.every((v: number | null) => v !== null)).toBe(true);
  expect(veeSummary).toEqual([{ estimated: 23, edited: 0, missing: 0 }]);
  // Like day: the same weekday a week before (the load repeats daily here).
  expect(series.values[LONG[0]!]).toBeCloseTo(load(LONG[0]!), 5);
  // The missing exceptions of the gaps no longer fail.
  const open = await gql(
    `{ veeExceptions(filter: { meterSerial: "M-1", rule: "missing", status: OPEN }) { nodes { id } } }`,
  );
  expect(open.data.veeExceptions.nodes).toEqual([]);
  // Estimating again changes nothing.
  const again = await gql(
    `mutation($f: DateTime!, $t: DateTime!) { estimateReadings(meterSerial: "M-1", from: $f, to: $t) { intervals } }`,
    { f: iso(D), t: iso(D + 96) },
  );
  expect(again.data.estimateReadings.intervals).toBe(0);
});

test('a late actual replaces an estimate; the history keeps the estimate', async () => {
  const k = D + LONG[0]! + 2;
  const before = (await day()).data.meter.series.values[LONG[0]! + 2];
  await ingest([{ ...all[k]!, value: 0.777 }]);
  const d = await day();
  expect(d.data.meter.series.quality[LONG[0]! + 2]).toBe(0);
  expect(d.data.meter.series.values[LONG[0]! + 2]).toBeCloseTo(0.777, 5);
  expect(d.data.meter.estimationMethods[LONG[0]! + 2]).toBeNull();
  const h = d.data.meter.history.filter((e: { start: string }) => e.start === iso(k));
  expect(h).toEqual([
    {
      start: iso(k),
      value: expect.closeTo(before, 5),
      quality: 8,
      newValue: expect.closeTo(0.777, 5),
      newQuality: 0,
      reason: 'LATE_ACTUAL',
      changedByUser: null,
    },
  ]);
});

test('editReadings: values, then SCALE; quality 7, history with reason and user, audit', async () => {
  const EDIT = `mutation($i: EditReadingsInput!) { editReadings(input: $i) { intervals auditId values } }`;
  const r = await gql(EDIT, {
    i: {
      meterSerial: 'M-1',
      from: iso(D + 80),
      to: iso(D + 82),
      values: [1.5, 1.25],
      reason: 'meter swap readout',
    },
  });
  expect(r.errors).toBeUndefined();
  expect(r.data.editReadings).toMatchObject({ intervals: 2, values: [1.5, 1.25] });
  const s = await gql(EDIT, {
    i: {
      meterSerial: 'M-1',
      from: iso(D + 80),
      to: iso(D + 81),
      method: 'SCALE',
      factor: 2,
      reason: 'CT ratio',
    },
  });
  expect(s.data.editReadings.values).toEqual([3]);
  const d = await day();
  expect(d.data.meter.series.values.slice(80, 82)).toEqual([3, 1.25]);
  expect(d.data.meter.series.quality.slice(80, 82)).toEqual([7, 7]);
  expect(d.data.meter.veeSummary[0].edited).toBe(2);
  const h = d.data.meter.history.filter((e: { start: string }) => e.start === iso(D + 80));
  expect(
    h.map((e: { reason: string; changedByUser: string; newValue: number; quality: number }) => [
      e.reason,
      e.changedByUser,
      e.quality,
      e.newValue,
    ]),
  ).toEqual([
    ['EDIT', 'internal:olga', 0, 1.5],
    ['EDIT', 'internal:olga', 7, 3],
  ]);
  const audit = await api.db.pool.query(
    sql`SELECT action, method, changed_by, reason, old_values, new_values, new_quality FROM reading_audit WHERE action = 'edit' ORDER BY id`,
  );
  expect(audit).toHaveLength(2);
  expect(audit[0]).toMatchObject({
    action: 'edit',
    method: 'VALUES',
    changed_by: 'internal:olga',
    reason: 'meter swap readout',
    new_values: [1.5, 1.25],
    new_quality: [7, 7],
  });
  expect(audit[1]).toMatchObject({ method: 'SCALE', reason: 'CT ratio', old_values: [1.5] });
  const bad = await gql(EDIT, {
    i: { meterSerial: 'M-1', from: iso(D + 80), to: iso(D + 82), values: [1], reason: 'x' },
  });
  expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  const noReason = await gql(EDIT, {
    i: { meterSerial: 'M-1', from: iso(D + 80), to: iso(D + 81), values: [1], reason: ' ' },
  });
  expect(noReason.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
});

test('INTERPOLATE and COPY_DAY', async () => {
  const EDIT = `mutation($i: EditReadingsInput!) { editReadings(input: $i) { values } }`;
  const before = (await day()).data.meter.series.values;
  const r = await gql(EDIT, {
    i: {
      meterSerial: 'M-1',
      from: iso(D + 10),
      to: iso(D + 13),
      method: 'INTERPOLATE',
      reason: 'smooth',
    },
  });
  expect(r.errors).toBeUndefined();
  const a = before[9];
  const b = before[13];
  expect(r.data.editReadings.values[1]).toBeCloseTo(a + ((b - a) * 2) / 4, 5);
  const c = await gql(EDIT, {
    i: {
      meterSerial: 'M-1',
      from: iso(D + 20),
      to: iso(D + 22),
      method: 'COPY_DAY',
      sourceDay: '2026-01-12',
      reason: 'copy',
    },
  });
  expect(c.errors).toBeUndefined();
  expect(c.data.editReadings.values[0]).toBeCloseTo(load(20), 5);
});
