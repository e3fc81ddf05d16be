/** Hand-computed estimation tables (America/New_York, 15-minute intervals). */
import { ErrorCode, MeterdataError } from '../../../src/errors';
import { Quality } from '../../../src/domain/channel';
import {
  ESTIMATION_METHODS,
  estimateGaps,
  estimationQuality,
  likeDayCandidates,
  type EstimateInput,
  type LikeDay,
} from '../../../src/domain/vee';
import { NY, STEP, daySeries, errorCode, indexes, midnight, series } from './helpers';

const WED = '2026-03-04';
const T0 = midnight(WED);
const nulls = (from: number, to: number) =>
  Object.fromEntries(indexes(from, to).map((i) => [i, null]));

/** A validated like day whose value at local-day index k is k / 100 (so the slot is visible). */
function likeDay(date: string, set: Record<number, number | null> = {}): LikeDay {
  const s = daySeries(date, 0);
  s.values = s.values.map((_v, k) => (k in set ? set[k]! : k / 100));
  s.quality = s.values.map((v) => (v === null ? null : Quality.VALID));
  return { localDate: date, series: s };
}

const estimate = (over: Partial<EstimateInput> & Pick<EstimateInput, 'series'>) =>
  estimateGaps({ timeZone: NY, ...over });

describe('interpolation', () => {
  test('linear between the good values around a gap (quality 9)', () => {
    const s = daySeries(WED, 0.5, { 9: 1.0, ...nulls(10, 13), 13: 2.0 });
    const r = estimate({ series: s });
    expect(r.values.slice(9, 14)).toEqual([1.0, 1.25, 1.5, 1.75, 2.0]);
    expect(r.quality.slice(9, 14)).toEqual([0, 9, 9, 9, 0]);
    expect(r.method.slice(9, 14)).toEqual([null, 'linear', 'linear', 'linear', null]);
  });

  test.each<[string, Record<number, number | null>, number[], number[]]>([
    [
      'only the left side is good (window end)',
      { 92: 0.4, ...nulls(93, 96) },
      [93, 94, 95],
      [0.4, 0.4, 0.4],
    ],
    [
      'only the right side is good (window start)',
      { ...nulls(0, 3), 3: 0.3 },
      [0, 1, 2],
      [0.3, 0.3, 0.3],
    ],
  ])('flat fill when %s', (_name, set, at, expected) => {
    const r = estimate({ series: daySeries(WED, 0.5, set) });
    expect(at.map((i) => r.values[i])).toEqual(expected);
    expect(at.map((i) => r.method[i])).toEqual(at.map(() => 'flat'));
    expect(at.map((i) => r.quality[i])).toEqual(at.map(() => Quality.ESTIMATED_INTERPOLATION));
  });

  test('up to maxInterpolationIntervals (default 12 = 3 h); longer gaps need history', () => {
    const twelve = estimate({ series: daySeries(WED, 0.5, nulls(20, 32)) });
    expect(twelve.method.filter((m) => m === 'linear')).toHaveLength(12);
    const thirteen = daySeries(WED, 0.5, nulls(20, 33));
    expect(estimate({ series: thirteen }).values.slice(20, 33)).toEqual(new Array(13).fill(null));
    expect(
      estimate({ series: thirteen, maxInterpolationIntervals: 13 }).values.slice(20, 33),
    ).toEqual(new Array(13).fill(0.5));
  });

  test.each([
    ['estimated (8)', Quality.ESTIMATED_HISTORY],
    ['failed validation (10)', Quality.FAILED_VALIDATION],
  ])('a neighbour that is %s is not an end point', (_name, q) => {
    const s = daySeries(WED, 0.5, { 9: 5.0, ...nulls(10, 12), 12: 1.0 });
    s.quality[9] = q;
    const r = estimate({ series: s });
    expect(r.values.slice(10, 12)).toEqual([1.0, 1.0]);
    expect(r.method.slice(10, 12)).toEqual(['flat', 'flat']);
  });

  test('never touches a value that is there', () => {
    const s = daySeries(WED, 0.5, { ...nulls(10, 13), 40: 7, 41: -1 });
    s.quality[40] = Quality.FAILED_VALIDATION;
    const r = estimate({ series: s });
    for (let i = 0; i < 96; i++) {
      if (s.values[i] === null) continue;
      expect([i, r.values[i], r.quality[i], r.method[i]]).toEqual([
        i,
        s.values[i],
        s.quality[i],
        null,
      ]);
    }
    expect(s.values[10]).toBeNull(); // the input is not modified
  });
});

describe('outages: zero usage, not missing data', () => {
  const outages = [{ from: T0 + 20 * STEP, to: T0 + 24 * STEP }];

  test('missing intervals inside an outage become 0, quality 11, method outage_zero', () => {
    const s = daySeries(WED, 0.5, { ...nulls(20, 26), 26: 0.8 });
    s.values[22] = 0; // an actual zero sent during the outage stays as it is
    s.quality[22] = Quality.VALID;
    const r = estimate({ series: s, outages });
    expect(r.values.slice(20, 27)).toEqual([0, 0, 0, 0, 0.8, 0.8, 0.8]);
    expect(r.quality.slice(20, 27)).toEqual([11, 11, 0, 11, 9, 9, 0]);
    // after the outage, the left neighbour is an outage interval: flat from the right side
    expect(r.method.slice(20, 27)).toEqual([
      'outage_zero',
      'outage_zero',
      null,
      'outage_zero',
      'flat',
      'flat',
      null,
    ]);
  });

  test('a gap between two outages has no end point and stays missing without history', () => {
    const s = daySeries(WED, 0.5, nulls(20, 30));
    const r = estimate({
      series: s,
      outages: [
        { from: T0 + 20 * STEP, to: T0 + 22 * STEP },
        { from: T0 + 28 * STEP, to: T0 + 30 * STEP },
      ],
    });
    expect(r.method.slice(20, 30)).toEqual([
      'outage_zero',
      'outage_zero',
      null,
      null,
      null,
      null,
      null,
      null,
      'outage_zero',
      'outage_zero',
    ]);
  });
});

describe("like-day lookup (Itron's two-week like day)", () => {
  test.each<[string, string, string[]]>([
    ['Monday', '2026-03-02', ['2026-02-23', '2026-02-16']],
    ['Tuesday', '2026-03-03', ['2026-02-24', '2026-02-25', '2026-02-26', '2026-02-17']],
    [
      'Wednesday',
      '2026-03-04',
      ['2026-02-25', '2026-03-03', '2026-02-24', '2026-02-26', '2026-02-18'],
    ],
    [
      'Thursday',
      '2026-03-05',
      ['2026-02-26', '2026-03-04', '2026-02-25', '2026-03-03', '2026-02-24', '2026-02-19'],
    ],
    ['Friday', '2026-03-06', ['2026-02-27', '2026-02-20']],
    ['Saturday', '2026-03-07', ['2026-02-28', '2026-02-21']],
    ['Sunday', '2026-03-08', ['2026-03-01', '2026-02-22']],
  ])('%s %s', (_day, date, expected) => {
    expect(likeDayCandidates(date)).toEqual(expected);
  });

  test('a holiday maps to Sunday: this week’s (the last before it), then the prior one', () => {
    expect(likeDayCandidates('2026-05-25', new Set(['2026-05-25']))).toEqual([
      '2026-05-24',
      '2026-05-17',
    ]);
    expect(likeDayCandidates('2026-07-04', new Set(['2026-07-04']))).toEqual([
      '2026-06-28',
      '2026-06-21',
    ]);
    expect(likeDayCandidates('2026-03-08', new Set(['2026-03-08']))).toEqual([
      '2026-03-01',
      '2026-02-22',
    ]);
  });

  test('an ordinary day never takes a holiday as its like day', () => {
    expect(likeDayCandidates('2026-03-04', new Set(['2026-02-25']))).toEqual([
      '2026-03-03',
      '2026-02-24',
      '2026-02-26',
      '2026-02-18',
    ]);
  });
});

describe('like-day estimation', () => {
  const gap = daySeries(WED, 0.5, nulls(40, 64)); // 10:00–16:00, 24 intervals
  const idx = indexes(40, 64);

  test('the prior Wednesday, slot by local time (quality 8)', () => {
    const r = estimate({ series: gap, likeDays: [likeDay('2026-02-25'), likeDay('2026-03-03')] });
    expect(idx.map((i) => r.values[i])).toEqual(idx.map((k) => k / 100));
    expect(idx.map((i) => r.method[i])).toEqual(idx.map(() => 'like_day'));
    expect(idx.map((i) => r.quality[i])).toEqual(idx.map(() => Quality.ESTIMATED_HISTORY));
  });

  test('falls through the lookup when a like day lacks a needed slot, or it is not validated', () => {
    const partial = likeDay('2026-02-25', { 50: null });
    const estimatedTue = likeDay('2026-03-03');
    estimatedTue.series.quality[45] = Quality.ESTIMATED_INTERPOLATION;
    const priorTue = likeDay('2026-02-24', Object.fromEntries(idx.map((k) => [k, 1 + k / 100])));
    const r = estimate({ series: gap, likeDays: [partial, estimatedTue, priorTue] });
    expect(idx.map((i) => r.values[i])).toEqual(idx.map((k) => 1 + k / 100));
  });

  test('a holiday is estimated from the Sunday before', () => {
    const sunday = likeDay('2026-03-01', Object.fromEntries(idx.map((k) => [k, 2])));
    const r = estimate({ series: gap, likeDays: [likeDay('2026-02-25'), sunday], holidays: [WED] });
    expect(idx.map((i) => r.values[i])).toEqual(idx.map(() => 2));
  });

  test('spring-forward day (92): 03:00–05:00 EDT takes the like day’s 03:00–05:00', () => {
    // 2026-03-08 index 8 is 03:00 EDT; on 2026-03-01 (96 intervals) 03:00 is index 12.
    const s = daySeries('2026-03-08', 0.5, nulls(8, 16));
    s.values[4] = null; // 01:00, a short gap: interpolated, not from history
    const r = estimate({
      series: s,
      likeDays: [likeDay('2026-03-01')],
      maxInterpolationIntervals: 4,
    });
    expect(r.values.slice(8, 16)).toEqual(indexes(12, 20).map((k) => k / 100));
    expect(r.method[4]).toBe('linear');
  });

  test('fall-back day (100): both 01:xx hours take the like day’s one 01:xx hour', () => {
    // 2026-11-01: index 4 = first 01:00 (EDT), index 8 = second 01:00 (EST)
    const s = daySeries('2026-11-01', 0.5, nulls(4, 20));
    const r = estimate({ series: s, likeDays: [likeDay('2026-10-25')] });
    expect(r.values.slice(4, 20)).toEqual([
      ...[4, 5, 6, 7].map((k) => k / 100), // first 01:00–01:45
      ...[4, 5, 6, 7].map((k) => k / 100), // second 01:00–01:45
      ...indexes(8, 16).map((k) => k / 100), // 02:00–03:45
    ]);
  });

  test('a like day that is a fall-back day gives its first 01:xx hour', () => {
    const s = daySeries('2026-11-08', 0.5, nulls(4, 20));
    const r = estimate({ series: s, likeDays: [likeDay('2026-11-01')] });
    // on 2026-11-01 local 01:00 (first) is index 4, 02:00 is index 12
    expect(r.values.slice(4, 20)).toEqual(
      [...indexes(4, 8), ...indexes(12, 24)].map((k) => k / 100),
    );
  });

  test('a gap over two local days is estimated day by day', () => {
    // Thursday 20:00 → Friday 04:00; only a Thursday like day: Friday's lookup (prior Friday,
    // Friday two weeks back) has nothing, so Friday's part stays missing.
    const a = daySeries('2026-03-05', 0.5, nulls(80, 96));
    const b = daySeries('2026-03-06', 0.5, nulls(0, 16));
    const s = series(a.start, [...a.values, ...b.values]);
    const r = estimate({ series: s, likeDays: [likeDay('2026-02-26')] });
    expect(r.values.slice(80, 96)).toEqual(indexes(80, 96).map((k) => k / 100));
    expect(r.values.slice(96, 112)).toEqual(new Array(16).fill(null));
  });
});

describe('proration from register reads', () => {
  const END = T0 + 96 * STEP;
  const gap = daySeries(WED, 0.25, nulls(40, 64)); // known: 72 × 0.25 = 18 kWh
  const reads = (a: number, b: number) => [
    { ts: T0, value: a },
    { ts: END, value: b },
  ];

  test('evenly without a like day: (30 − 18) / 24 = 0.5 kWh each, quality 11', () => {
    const r = estimate({ series: gap, registerReads: reads(1000, 1030) });
    expect(r.values.slice(40, 64)).toEqual(new Array(24).fill(0.5));
    expect(r.quality[40]).toBe(Quality.CALCULATED);
    expect(r.method[40]).toBe('proration');
  });

  test('shaped by the like day: weights 0.1 and 0.3 → 0.25 and 0.75 kWh', () => {
    const shape = likeDay(
      '2026-02-25',
      Object.fromEntries(indexes(40, 64).map((k) => [k, k < 52 ? 0.1 : 0.3])),
    );
    const r = estimate({ series: gap, registerReads: reads(1000, 1030), likeDays: [shape] });
    for (let i = 40; i < 52; i++) expect(r.values[i]).toBeCloseTo(0.25, 12);
    for (let i = 52; i < 64; i++) expect(r.values[i]).toBeCloseTo(0.75, 12);
    const total = r.values.reduce<number>((s, v) => s + (v ?? 0), 0);
    expect(total).toBeCloseTo(30, 9);
  });

  test('two long gaps in one register span share the remainder: (30 − 16.5) / 30 = 0.45', () => {
    const s = daySeries(WED, 0.25, { ...nulls(20, 34), ...nulls(60, 76) });
    const r = estimate({ series: s, registerReads: reads(1000, 1030) });
    expect(
      [...r.values.slice(20, 34), ...r.values.slice(60, 76)].every(
        (v) => Math.abs(v! - 0.45) < 1e-12,
      ),
    ).toBe(true);
  });

  test('short gaps are interpolated first and count as known', () => {
    const s = daySeries(WED, 0.25, { ...nulls(5, 7), ...nulls(40, 64) });
    const r = estimate({ series: s, registerReads: reads(1000, 1030) });
    expect(r.method.slice(5, 7)).toEqual(['linear', 'linear']);
    expect(r.values.slice(40, 64)).toEqual(new Array(24).fill(0.5));
  });

  test.each<[string, Array<{ ts: number; value: number }>]>([
    ['one read only', [{ ts: T0, value: 1000 }]],
    [
      'reads off the interval grid',
      [
        { ts: T0 + 60_000, value: 1000 },
        { ts: END - 60_000, value: 1030 },
      ],
    ],
    ['reads inconsistent with the known intervals (10 kWh < 18 kWh known)', reads(1000, 1010)],
  ])('no proration with %s: like day instead', (_name, registerReads) => {
    const r = estimate({ series: gap, registerReads, likeDays: [likeDay('2026-02-25')] });
    expect(r.method[40]).toBe('like_day');
    expect(r.values[40]).toBe(0.4);
  });
});

describe('contract', () => {
  test('quality per method', () => {
    expect(Object.fromEntries(ESTIMATION_METHODS.map((m) => [m, estimationQuality(m)]))).toEqual({
      linear: 9,
      flat: 9,
      like_day: 8,
      proration: 11,
      outage_zero: 11,
    });
  });

  test.each<[string, Partial<EstimateInput>, ErrorCode]>([
    ['unknown zone', { timeZone: 'Nowhere/Null' }, ErrorCode.BAD_TIME_ZONE],
    ['negative maximum', { maxInterpolationIntervals: -1 }, ErrorCode.BAD_USER_INPUT],
    [
      'quality out of step',
      { series: { ...series(T0, [1, null]), quality: [0] } },
      ErrorCode.BAD_USER_INPUT,
    ],
  ])('rejects %s', (_name, over, code) => {
    const call = () => estimate({ series: daySeries(WED, 0.5), ...over });
    expect(call).toThrow(MeterdataError);
    expect(errorCode(call)).toBe(code);
  });
});
