import {
  buildPackedSeries,
  buildSeries,
  packSeries,
  rollup,
  snapRange,
  type Series,
} from '../../src/domain/series';
import { type DayRow, DAY_MS } from '../../src/domain/readings';
import { Quality } from '../../src/domain/channel';

const Q = 900;

function flat(startIso: string, endIso: string, value: number): Series {
  const start = Date.parse(startIso);
  const n = (Date.parse(endIso) - start) / (Q * 1000);
  return {
    start,
    intervalSeconds: Q,
    values: new Array(n).fill(value),
    quality: new Array(n).fill(Quality.VALID),
  };
}

describe('rollup by local day across DST (America/New_York)', () => {
  test('spring-forward day has 92 intervals and the right total', () => {
    // 2026-03-08 local midnight EST (-05:00) to next local midnight EDT (-04:00): 23 h
    const s = flat('2026-03-07T05:00:00Z', '2026-03-10T04:00:00Z', 0.25);
    const days = rollup(s, 'America/New_York', 'DAY');
    expect(days.map((d) => d.localStart)).toEqual([
      '2026-03-07T00:00:00-05:00',
      '2026-03-08T00:00:00-05:00',
      '2026-03-09T00:00:00-04:00',
    ]);
    expect(days.map((d) => d.expected)).toEqual([96, 92, 96]);
    expect(days.map((d) => d.value)).toEqual([24, 23, 24]);
    expect(days[1]!.end - days[1]!.start).toBe(23 * 3600_000);
  });

  test('fall-back day has 100 intervals and the right total', () => {
    const s = flat('2026-10-31T04:00:00Z', '2026-11-03T05:00:00Z', 0.5);
    const days = rollup(s, 'America/New_York', 'DAY');
    expect(days.map((d) => d.expected)).toEqual([96, 100, 96]);
    expect(days.map((d) => d.value)).toEqual([48, 50, 48]);
    expect(days[1]!.localStart).toBe('2026-11-01T00:00:00-04:00');
  });

  test('hourly buckets: the repeated fall-back hour appears twice, with distinct offsets', () => {
    const s = flat('2026-11-01T04:00:00Z', '2026-11-02T05:00:00Z', 1);
    const hours = rollup(s, 'America/New_York', 'HOUR');
    expect(hours).toHaveLength(25);
    const oneAm = hours.filter((h) => h.localStart.startsWith('2026-11-01T01:00:00'));
    expect(oneAm.map((h) => h.localStart)).toEqual([
      '2026-11-01T01:00:00-04:00',
      '2026-11-01T01:00:00-05:00',
    ]);
    expect(hours.every((h) => h.value === 4 && h.expected === 4)).toBe(true);
  });

  test('monthly buckets in Europe/Berlin count March with its 23-hour day', () => {
    const s = flat('2026-02-28T23:00:00Z', '2026-04-30T22:00:00Z', 0.25);
    const months = rollup(s, 'Europe/Berlin', 'MONTH');
    expect(months.map((m) => m.localStart)).toEqual([
      '2026-03-01T00:00:00+01:00',
      '2026-04-01T00:00:00+02:00',
    ]);
    expect(months[0]!.expected).toBe(31 * 96 - 4);
    expect(months[1]!.expected).toBe(30 * 96);
  });
});

test('rollup counts missing and estimated intervals and leaves value null for empty buckets', () => {
  const s = flat('2026-01-01T00:00:00Z', '2026-01-01T02:00:00Z', 1);
  s.values[0] = null;
  s.quality[0] = null;
  s.quality[1] = Quality.ESTIMATED_INTERPOLATION;
  for (let i = 4; i < 8; i++) {
    s.values[i] = null;
    s.quality[i] = null;
  }
  const hours = rollup(s, 'UTC', 'HOUR');
  expect(hours[0]).toMatchObject({ value: 3, count: 3, missing: 1, estimated: 1, expected: 4 });
  expect(hours[1]).toMatchObject({ value: null, count: 0, missing: 4, expected: 4 });
});

function dayRow(): DayRow {
  const day = Date.parse('2026-01-02T00:00:00Z') / DAY_MS;
  const vals = Float64Array.from({ length: 96 }, (_, i) => i);
  vals[10] = NaN;
  const quality = new Uint8Array(96);
  quality[10] = 255;
  quality[11] = Quality.ESTIMATED_INTERPOLATION;
  return {
    meterId: 1,
    channel: 1,
    day,
    vals,
    quality,
    batches: [1],
    batchIdx: null,
    versions: null,
    veeFlags: null,
    version: 1,
  };
}

test('buildPackedSeries lays the rows as buildSeries does: NaN and code 255 where no value', () => {
  const from = Date.parse('2026-01-01T23:00:00Z');
  const to = Date.parse('2026-01-02T03:00:00Z');
  const s = buildSeries([dayRow()], from, to, Q);
  const p = buildPackedSeries([dayRow()], from, to, Q);
  expect(p.start).toBe(from);
  expect(p.values).toBeInstanceOf(Float64Array);
  expect(p.values).toHaveLength(16);
  expect(Array.from(p.values, (v) => (Number.isNaN(v) ? null : v))).toEqual(s.values);
  expect(Array.from(p.quality, (q) => (q === 255 ? null : q))).toEqual(s.quality);
  expect(p.quality[4 + 11]).toBe(Quality.ESTIMATED_INTERPOLATION);
  // A Series packs to the same arrays; a PackedSeries is taken as it is.
  expect(packSeries(s)).toEqual(p);
  expect(packSeries(p)).toBe(p);
});

test('buildSeries lays day rows on the grid with nulls for missing intervals', () => {
  const row = dayRow();
  const from = Date.parse('2026-01-01T23:00:00Z');
  const to = Date.parse('2026-01-02T03:00:00Z');
  const s = buildSeries([row], from, to, Q);
  expect(s.values).toHaveLength(16);
  expect(s.values.slice(0, 4)).toEqual([null, null, null, null]);
  expect(s.values.slice(4, 8)).toEqual([0, 1, 2, 3]);
  expect(s.values[4 + 10]).toBeNull();
  expect(s.quality[4 + 10]).toBeNull();
  expect(s.quality[4]).toBe(0);
});

test('snapRange widens a range to the interval grid', () => {
  const r = snapRange(Date.parse('2026-01-01T00:07:00Z'), Date.parse('2026-01-01T00:31:00Z'), Q);
  expect(new Date(r.from).toISOString()).toBe('2026-01-01T00:00:00.000Z');
  expect(new Date(r.to).toISOString()).toBe('2026-01-01T00:45:00.000Z');
});
