/**
 * Hand-computed table tests for each rule. Meters are in America/New_York on a 15-minute grid;
 * 2026-03-04 is an ordinary Wednesday (96 intervals), 2026-03-08 the spring-forward day (92) and
 * 2026-11-01 the fall-back day (100).
 */
import { ErrorCode, MeterdataError } from '../../../src/errors';
import { Quality } from '../../../src/domain/channel';
import {
  DEFAULT_RULE_SETS,
  RULE_BIT,
  RULE_IDS,
  cloneRuleSet,
  rulesOfFlags,
  runRules,
  type RuleFailure,
  type VeeInput,
} from '../../../src/domain/vee';
import {
  STEP,
  at,
  daySeries,
  errorCode,
  indexes,
  input,
  intervalsIn,
  meter,
  midnight,
  only,
  series,
} from './helpers';

const WED = '2026-03-04';
const SPRING = '2026-03-08';
const FALL = '2026-11-01';
const T0 = midnight(WED); // 2026-03-04T05:00Z

/** The parts of failures a table compares: the interval indexes and the data. */
const brief = (fs: RuleFailure[]) => fs.map((f) => ({ intervals: f.intervals, data: f.data }));

/** A day that varies like real load (0.20 / 0.21 kWh), so no default rule fires on it. */
const wiggle = (date: string, set: Record<number, number | null> = {}) => {
  const s = daySeries(date, null);
  s.values = s.values.map((_v, i) => (i in set ? set[i]! : i % 2 ? 0.21 : 0.2));
  s.quality = s.values.map((v) => (v === null ? null : 0));
  return s;
};

describe('local days', () => {
  test.each([
    [WED, 96],
    [SPRING, 92],
    [FALL, 100],
  ])('%s has %i intervals', (date, n) => {
    expect(intervalsIn(date)).toBe(n);
  });
});

describe('missing', () => {
  const rs = only('missing');
  test.each<
    [string, Record<number, null>, Partial<VeeInput>, Array<{ intervals: number[]; count: number }>]
  >([
    [
      'one gap → one failure',
      { 10: null, 11: null, 12: null },
      {},
      [{ intervals: [10, 11, 12], count: 3 }],
    ],
    [
      'two gaps → two failures',
      { 3: null, 50: null, 51: null },
      {},
      [
        { intervals: [3], count: 1 },
        { intervals: [50, 51], count: 2 },
      ],
    ],
    [
      'inside a known outage: zero usage, not missing',
      { 10: null, 11: null, 12: null },
      { outages: [{ from: T0 + 10 * STEP + 60_000, to: T0 + 12 * STEP + 60_000 }] },
      [],
    ],
    [
      'not due yet: the last 6 h before now (grace) and the future',
      Object.fromEntries(indexes(40, 96).map((i) => [i, null])),
      { now: T0 + 50 * STEP + 360 * 60_000 },
      [{ intervals: indexes(40, 50), count: 10 }],
    ],
    [
      'before installation: not expected',
      Object.fromEntries(indexes(0, 20).map((i) => [i, null])),
      { meter: meter({ installedAt: T0 + 20 * STEP }) },
      [],
    ],
  ])('%s', (_name, set, over, expected) => {
    const r = runRules(input(daySeries(WED, 0.25, set), over), rs);
    expect(r.failures.map((f) => ({ intervals: f.intervals, count: f.data?.count }))).toEqual(
      expected,
    );
    for (const f of r.failures) {
      expect(f.rule).toBe('missing');
      expect(f.severity).toBe('warning');
      expect(f.from).toBe(T0 + f.intervals[0]! * STEP);
      expect(f.to).toBe(T0 + (f.intervals[f.intervals.length - 1]! + 1) * STEP);
    }
  });

  test('minIntervals and excludeOutages are honoured', () => {
    const s = daySeries(WED, 0.25, { 5: null, 10: null, 11: null });
    const outages = [{ from: T0 + 10 * STEP, to: T0 + 12 * STEP }];
    expect(brief(runRules(input(s), only('missing', { minIntervals: 2 })).failures)).toEqual([
      { intervals: [10, 11], data: { count: 2 } },
    ]);
    expect(
      runRules(input(s, { outages }), only('missing', { excludeOutages: false })).failures.map(
        (f) => f.intervals,
      ),
    ).toEqual([[5], [10, 11]]);
  });

  test.each([
    [SPRING, 92, 23],
    [FALL, 100, 25],
  ])('a whole missing DST day (%s): one failure of %i intervals, %i hours', (date, n, hours) => {
    const r = runRules(input(daySeries(date, null)), only('missing'));
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]!.intervals).toEqual(indexes(0, n));
    expect(r.failures[0]!.to - r.failures[0]!.from).toBe(hours * 3_600_000);
    expect(r.failures[0]!.detail).toContain(`${n} missing intervals (${hours * 60} min)`);
  });
});

describe('interval_alignment', () => {
  const rs = only('interval_alignment');
  const s = daySeries(WED, 0.25);
  test.each<
    [
      string,
      Array<{ ts: number; intervalSeconds: number }>,
      Array<{ intervals: number[]; data: Record<string, number> }>,
    ]
  >([
    ['on the grid', indexes(0, 96).map((i) => ({ ts: T0 + i * STEP, intervalSeconds: 900 })), []],
    [
      '5-minute readings for a 15-minute meter: one failure per run',
      [0, 1, 2].map((k) => ({ ts: T0 + 10 * STEP + k * 300_000, intervalSeconds: 300 })),
      [{ intervals: [10], data: { count: 3, intervalSeconds: 300 } }],
    ],
    [
      'starts 60 s after the boundary',
      [0, 1].map((k) => ({ ts: T0 + 60_000 + k * STEP, intervalSeconds: 900 })),
      [{ intervals: [0, 1, 2], data: { count: 2, offsetSeconds: 60 } }],
    ],
  ])('%s', (_name, received, expected) => {
    expect(brief(runRules(input(s, { received }), rs).failures)).toEqual(expected);
  });

  test('without arrival info the rule says it was skipped', () => {
    const r = runRules(input(s), rs);
    expect(r.failures).toEqual([]);
    expect(r.skipped).toEqual([
      { rule: 'interval_alignment', reason: expect.stringContaining('received') },
    ]);
  });
});

describe('future and installation period', () => {
  test('values for intervals ending after now + 1 h are future', () => {
    const values = indexes(0, 96).map((i) => (i < 20 ? 0.25 : null));
    const r = runRules(input(series(T0, values), { now: T0 + 10 * STEP }), only('future'));
    // end of interval i = T0 + (i + 1)·15 min > now + 60 min = T0 + 14·15 min  ⇔  i ≥ 14
    expect(brief(r.failures)).toEqual([{ intervals: indexes(14, 20), data: { count: 6 } }]);
    expect(r.failures[0]!.severity).toBe('error');
  });

  test('before installation and after removal', () => {
    const m = meter({ installedAt: T0 + 4 * STEP + 60_000, removedAt: T0 + 90 * STEP });
    const r = runRules(input(daySeries(WED, 0.25), { meter: m }), only('pre_installation'));
    expect(brief(r.failures)).toEqual([
      { intervals: indexes(0, 5), data: { count: 5 } },
      { intervals: indexes(90, 96), data: { count: 6 } },
    ]);
    expect(r.failures[0]!.detail).toContain('before meter M1 was installed');
    expect(r.failures[1]!.detail).toContain('after meter M1 was removed');
  });
});

describe('conflicting_duplicate', () => {
  test('only really different values, grouped in runs, inside the window', () => {
    const conflicts = [
      { ts: T0 + 10 * STEP, values: [0.5, 0.4] },
      { ts: T0 + 11 * STEP, values: [0.25, 0.3] },
      { ts: T0 + 20 * STEP, values: [0.3, 0.30000001] }, // same float4
      { ts: T0 + 30 * STEP, values: [0.3, 0.30005] }, // below 0.1 Wh
      { ts: T0 + 40 * STEP, values: [0.3] },
      { ts: T0 - STEP, values: [1, 2] }, // outside the window
      { ts: T0 + 5 * STEP + 1000, values: [1, 2] }, // not on the grid
    ];
    const r = runRules(input(daySeries(WED, 0.25), { conflicts }), only('conflicting_duplicate'));
    expect(brief(r.failures)).toEqual([
      { intervals: [10, 11], data: { count: 2, maxDifferenceKwh: 0.1 } },
    ]);
  });
});

describe('negative', () => {
  const s = daySeries(WED, 0.25, { 5: -0.1, 6: -0.2 });
  test.each<[string, Partial<VeeInput>, Parameters<typeof only<'negative'>>[1], number[][]]>([
    ['delivered', {}, {}, [[5, 6]]],
    ['received, checked by default', { meter: meter({ channel: 'received' }) }, {}, [[5, 6]]],
    [
      'received, not checked',
      { meter: meter({ channel: 'received' }) },
      { checkReceived: false },
      [],
    ],
    ['within tolerance', {}, { toleranceKwh: 0.2 }, []],
    [
      'register going backwards',
      {
        registerReads: [
          { ts: T0, value: 100 },
          { ts: T0 + 16 * STEP, value: 99 },
        ],
      },
      { toleranceKwh: 0.5 },
      [indexes(0, 16)],
    ],
  ])('%s', (_name, over, params, expected) => {
    const r = runRules(input(s, over), only('negative', params));
    expect(r.failures.map((f) => f.intervals)).toEqual(expected);
  });

  test('the lowest value is reported', () => {
    const r = runRules(input(s), only('negative'));
    expect(r.failures[0]!.data).toEqual({ count: 2, minKwh: -0.2 });
  });
});

describe('zero_run', () => {
  const HISTORY_START = midnight('2026-02-18');
  /** 14 days of history before 2026-03-04, value by local quarter-hour of the day. */
  const history = (valueAt: (slot: number, day: number) => number) => {
    const values: number[] = [];
    for (let d = 0; d < 14; d++) for (let k = 0; k < 96; k++) values.push(valueAt(k, d));
    return series(HISTORY_START, values);
  };
  const always = history(() => 0.2);
  const nightZero = history((k) => (k < 24 ? 0 : 0.2)); // zero 00:00–06:00 local (PV-like export)
  const halfDays = history((_k, d) => (d % 2 ? 0.2 : 0));
  const zeros = (from: number, to: number) =>
    Object.fromEntries(indexes(from, to).map((i) => [i, 0]));

  test.each<
    [
      string,
      Record<number, number>,
      Partial<VeeInput>,
      Parameters<typeof only<'zero_run'>>[1],
      number[][],
    ]
  >([
    [
      '8 zeros where usage is always recorded',
      zeros(8, 16),
      { history: { intervals: always } },
      {},
      [indexes(8, 16)],
    ],
    ['7 zeros: shorter than 2 h', zeros(8, 15), { history: { intervals: always } }, {}, []],
    [
      'zeros at night where history is zero too',
      zeros(8, 16),
      { history: { intervals: nightZero } },
      {},
      [],
    ],
    [
      'zeros mid-morning where history has usage',
      zeros(40, 48),
      { history: { intervals: nightZero } },
      {},
      [indexes(40, 48)],
    ],
    [
      'usage on only half of the history days',
      zeros(40, 48),
      { history: { intervals: halfDays } },
      {},
      [],
    ],
    [
      'daily totals only, average 10 kWh',
      zeros(8, 16),
      { history: { dailyTotals: new Array(7).fill(10) } },
      {},
      [indexes(8, 16)],
    ],
    [
      'daily totals only, average 0.5 kWh',
      zeros(8, 16),
      { history: { dailyTotals: new Array(7).fill(0.5) } },
      {},
      [],
    ],
    [
      'received channel: not checked by default',
      zeros(8, 16),
      { history: { intervals: always }, meter: meter({ channel: 'received' }) },
      {},
      [],
    ],
    [
      'received channel when asked',
      zeros(8, 16),
      { history: { intervals: always }, meter: meter({ channel: 'received' }) },
      { checkReceived: true },
      [indexes(8, 16)],
    ],
    [
      'inside an outage',
      zeros(8, 16),
      { history: { intervals: always }, outages: [{ from: T0 + 8 * STEP, to: T0 + 16 * STEP }] },
      {},
      [],
    ],
  ])('%s', (_name, set, over, params, expected) => {
    const r = runRules(input(daySeries(WED, 0.2, set), over), only('zero_run', params));
    expect(r.failures.map((f) => f.intervals)).toEqual(expected);
  });

  test('the expected share is reported', () => {
    const r = runRules(
      input(daySeries(WED, 0.2, zeros(8, 16)), { history: { intervals: always } }),
      only('zero_run'),
    );
    expect(r.failures[0]!.data).toEqual({ count: 8, expectedShare: 1 });
  });

  test('estimated zeros are not a zero run', () => {
    const s = daySeries(WED, 0.2, zeros(8, 16));
    s.quality = s.values.map((_v, i) => (i >= 8 && i < 16 ? Quality.ESTIMATED_INTERPOLATION : 0));
    expect(
      runRules(input(s, { history: { intervals: always } }), only('zero_run')).failures,
    ).toEqual([]);
  });

  test('without history the rule says it could not judge', () => {
    const r = runRules(input(daySeries(WED, 0.2, zeros(8, 16))), only('zero_run'));
    expect(r.failures).toEqual([]);
    expect(r.skipped.map((s) => s.rule)).toEqual(['zero_run']);
  });

  test('time of day is local: on the spring-forward day 06:00–08:00 EDT matches history 06:00–08:00 EST', () => {
    // History (EST) is zero 00:00–06:00 local. On 2026-03-08 (EDT) zeros at 06:00–08:00 local
    // = 10:00–12:00Z: by local time history always had usage there (share 1 → failure); by UTC
    // time half of those slots were zero in history (share 0.5 → no failure).
    const spring = daySeries(SPRING, 0.2);
    const first = (at('2026-03-08T06:00') - spring.start) / STEP;
    for (let i = first; i < first + 8; i++) spring.values[i] = 0;
    const r = runRules(input(spring, { history: { intervals: nightZero } }), only('zero_run'));
    expect(r.failures.map((f) => f.intervals)).toEqual([indexes(first, first + 8)]);
    expect(r.failures[0]!.from).toBe(Date.UTC(2026, 2, 8, 10));
  });
});

describe('high_low', () => {
  // history: mean 10, sample sd √(8/6) = 1.1547
  // residential limits: high = max(4 × 10, 10 + 4 × 1.1547) = 40; low = min(0.1 × 10, 10 − 4.6188) = 1
  const history = { dailyTotals: [10, 10, 10, 10, 10, 12, 8] };
  const rs = only('high_low');
  const run = (s: ReturnType<typeof daySeries>) => runRules(input(s, { history }), rs);

  test.each<
    [
      string,
      ReturnType<typeof daySeries>,
      Array<{ n: number; total: number; kind: 'above' | 'below' }>,
    ]
  >([
    ['an ordinary day (24 kWh)', daySeries(WED, 0.25), []],
    ['48 kWh: high', daySeries(WED, 0.5), [{ n: 96, total: 48, kind: 'above' }]],
    ['0.96 kWh, complete: low', daySeries(WED, 0.01), [{ n: 96, total: 0.96, kind: 'below' }]],
    [
      'half a day of 0.01: incomplete, so not low',
      daySeries(WED, 0.01, Object.fromEntries(indexes(48, 96).map((i) => [i, null]))),
      [],
    ],
    [
      'half a day of 0.9 = 43.2 kWh: already high',
      daySeries(WED, 0.9, Object.fromEntries(indexes(48, 96).map((i) => [i, null]))),
      [{ n: 96, total: 43.2, kind: 'above' }],
    ],
    [
      'spring-forward day, 92 × 0.5 = 46 kWh: high',
      daySeries(SPRING, 0.5),
      [{ n: 92, total: 46, kind: 'above' }],
    ],
    ['fall-back day, 100 × 0.39 = 39 kWh: within', daySeries(FALL, 0.39), []],
    [
      'fall-back day, 100 × 0.41 = 41 kWh: high',
      daySeries(FALL, 0.41),
      [{ n: 100, total: 41, kind: 'above' }],
    ],
  ])('%s', (_name, s, expected) => {
    const r = run(s);
    expect(
      r.failures.map((f) => ({
        n: f.intervals.length,
        total: f.data!.totalKwh,
        kind: f.detail.includes('above') ? 'above' : 'below',
      })),
    ).toEqual(expected);
    for (const f of r.failures) {
      expect(f.data).toMatchObject({ historyMeanKwh: 10, highLimitKwh: 40, lowLimitKwh: 1 });
    }
  });

  test('a two-day window: only the high day fails, with its local-day span', () => {
    const a = daySeries(SPRING, 0.25);
    const b = daySeries('2026-03-09', 0.5);
    const s = series(a.start, [...a.values, ...b.values]);
    const r = run(s);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]!.intervals).toEqual(indexes(92, 92 + 96));
    expect(r.failures[0]!.from).toBe(midnight('2026-03-09'));
    expect(r.failures[0]!.detail).toMatch(/^2026-03-09: 48 kWh, above the high limit 40 kWh/);
  });

  test('without enough history the rule is skipped; a near-empty premise is not judged', () => {
    const r = runRules(input(daySeries(WED, 0.5), { history: { dailyTotals: [10, 10] } }), rs);
    expect(r.failures).toEqual([]);
    expect(r.skipped).toEqual([{ rule: 'high_low', reason: '2 history days, 7 needed' }]);
    const tiny = runRules(
      input(daySeries(WED, 0.5), { history: { dailyTotals: new Array(7).fill(0.5) } }),
      rs,
    );
    expect(tiny.failures).toEqual([]);
  });

  test('the export channel is not checked unless asked: export follows the weather', () => {
    const over = { history, meter: meter({ channel: 'received' as const }) };
    expect(runRules(input(daySeries(WED, 0.5), over), rs).failures).toEqual([]);
    const asked = runRules(
      input(daySeries(WED, 0.5), over),
      only('high_low', { checkReceived: true }),
    );
    expect(asked.failures.map((f) => f.data!.totalKwh)).toEqual([48]);
  });

  test('daily totals are derived from interval history when not given', () => {
    const hist = series(midnight('2026-02-18'), new Array(14 * 96).fill(10 / 96));
    const r = runRules(input(daySeries(WED, 0.5), { history: { intervals: hist } }), rs);
    expect(r.failures.map((f) => f.data!.historyMeanKwh)).toEqual([10]);
  });
});

describe('spike', () => {
  const rs = only('spike');
  const evening = Object.fromEntries(indexes(72, 80).map((i) => [i, 0.8])); // 18:00–20:00
  const ev = Object.fromEntries(indexes(88, 96).map((i) => [i, 1.8])); // 22:00–24:00, 7.2 kW
  const spikesOf = (s: ReturnType<typeof daySeries>) => runRules(input(s), rs).failures;

  test.each<[string, ReturnType<typeof daySeries>, number[]]>([
    ['a normal evening peak is not a spike', daySeries(WED, 0.2, evening), []],
    // Oracle: (2.0 − 0.8) / 0.8 = 150 % ≤ 400 %; isolation: 2.0 > 5 × max(0.2, 0.2, q75 = 0.2)
    [
      '×10 at 03:00 on a day with an evening peak',
      daySeries(WED, 0.2, { ...evening, 12: 2.0 }),
      [12],
    ],
    // Oracle: (2.0 − 1.8) / 1.8 = 11 %; isolation: q75 of non-zero values is 0.2 → ×10
    ['×10 hidden under an EV-charging maximum', daySeries(WED, 0.2, { ...ev, 12: 2.0 }), [12]],
    // Oracle: (3.0 − 0.5) / 0.5 = 500 % > 400 %: both intervals above 0.5 × 5 = 2.5 fail
    ['a two-interval spike', daySeries(WED, 0.5, { 40: 3.0, 41: 3.0 }), [40, 41]],
    // Oracle: (1.2 − 0.3) / 0.3 = 300 % ≤ 400 %; isolation: the neighbour is 1.2
    ['a 30-minute appliance burst', daySeries(WED, 0.3, { 40: 1.2, 41: 1.2 }), []],
    ['below 1 kW (0.25 kWh) never', daySeries(WED, 0.01, { 12: 0.2 }), []],
    [
      'less than half the day present: not checked',
      daySeries(WED, 0.2, {
        ...Object.fromEntries(indexes(40, 96).map((i) => [i, null])),
        12: 2.0,
      }),
      [],
    ],
    // Mostly zero (an export channel on a cloudy day): the quartile of all values would be 0 and
    // 0.3 would be 15× its 0.02 neighbours; the quartile of the non-zero values is 0.25.
    [
      'zeros do not lower the upper quartile',
      daySeries(WED, 0, {
        ...Object.fromEntries(indexes(30, 46).map((i) => [i, 0.25])),
        59: 0.02,
        60: 0.3,
        61: 0.02,
      }),
      [],
    ],
  ])('%s', (_name, s, expected) => {
    expect(spikesOf(s).flatMap((f) => f.intervals)).toEqual(expected);
  });

  test('minKw is a parameter', () => {
    const s = daySeries(WED, 0.01, { 12: 0.2 });
    // 0.2 kWh = 0.8 kW ≥ 0.5 kW; Oracle: (0.2 − 0.01) / 0.01 = 1900 %
    const r = runRules(input(s), only('spike', { minKw: 0.5 }));
    expect(r.failures.map((f) => f.data!.percentDifference)).toEqual([1900]);
  });

  test('the failure says which test fired, with the numbers', () => {
    const [f] = spikesOf(daySeries(WED, 0.2, { ...evening, 12: 2.0 }));
    expect(f!.data).toEqual({
      valueKwh: 2,
      thirdHighestKwh: 0.8,
      neighbourRefKwh: 0.2,
      percentDifference: 150,
    });
    expect(f!.detail).toBe(
      "spike of 2 kWh at 2026-03-04T03:00-05:00: 10× its neighbours and the day's upper quartile of non-zero values",
    );
    expect([f!.from, f!.to]).toEqual([at('2026-03-04T03:00'), at('2026-03-04T03:15')]);
  });

  test('spring-forward day (92 intervals): 03:00 EDT is index 8', () => {
    const s = daySeries(SPRING, 0.2, { 8: 2.0 });
    const [f] = spikesOf(s);
    expect(f!.intervals).toEqual([8]);
    expect(f!.from).toBe(at('2026-03-08T03:00'));
    expect(f!.from).toBe(Date.UTC(2026, 2, 8, 7));
  });

  test('fall-back day (100 intervals): the second 01:15 (EST) is index 9', () => {
    const s = daySeries(FALL, 0.2, { 9: 2.0 });
    const [f] = spikesOf(s);
    expect(f!.intervals).toEqual([9]);
    expect(f!.from).toBe(Date.UTC(2026, 10, 1, 6, 15));
    expect(f!.detail).toContain('2026-11-01T01:15-05:00');
  });

  test('each local day is its own chunk: a window of two days flags the spike in each', () => {
    const a = daySeries(WED, 0.2, { 12: 2.0 });
    const b = daySeries('2026-03-05', 0.2, { 95: 2.0 });
    const r = runRules(input(series(a.start, [...a.values, ...b.values])), rs);
    expect(r.failures.map((f) => f.intervals[0])).toEqual([12, 96 + 95]);
  });
});

describe('sum_check', () => {
  const rs = only('sum_check');
  const s = daySeries(WED, 0.25); // 24 kWh
  const END = T0 + 96 * STEP;
  test.each<
    [
      string,
      Array<{ ts: number; value: number }>,
      ReturnType<typeof daySeries>,
      Array<{ intervals: number[]; data: Record<string, number> }>,
    ]
  >([
    [
      'matching',
      [
        { ts: T0, value: 1000 },
        { ts: END, value: 1024 },
      ],
      s,
      [],
    ],
    [
      '6 kWh apart',
      [
        { ts: T0, value: 1000 },
        { ts: END, value: 1030 },
      ],
      s,
      [
        {
          intervals: indexes(0, 96),
          data: { intervalSumKwh: 24, registerDifferenceKwh: 30, differenceKwh: -6 },
        },
      ],
    ],
    [
      '0.9 kWh apart: within the 1 kWh register resolution',
      [
        { ts: T0, value: 1000 },
        { ts: END, value: 1024.9 },
      ],
      s,
      [],
    ],
    [
      '1.5 kWh apart: more than max(1 kWh, 2 % of 25.5)',
      [
        { ts: T0, value: 1000 },
        { ts: END, value: 1025.5 },
      ],
      s,
      [
        {
          intervals: indexes(0, 96),
          data: { intervalSumKwh: 24, registerDifferenceKwh: 25.5, differenceKwh: -1.5 },
        },
      ],
    ],
    [
      'three reads: only the afternoon span fails',
      [
        { ts: T0, value: 1000 },
        { ts: T0 + 48 * STEP, value: 1012 },
        { ts: END, value: 1030 },
      ],
      s,
      [
        {
          intervals: indexes(48, 96),
          data: { intervalSumKwh: 12, registerDifferenceKwh: 18, differenceKwh: -6 },
        },
      ],
    ],
    [
      'a missing interval in the span: left to the missing rule',
      [
        { ts: T0, value: 1000 },
        { ts: END, value: 1030 },
      ],
      daySeries(WED, 0.25, { 50: null }),
      [],
    ],
    [
      'register going backwards: left to the negative rule',
      [
        { ts: T0, value: 1000 },
        { ts: END, value: 990 },
      ],
      s,
      [],
    ],
  ])('%s', (_name, registerReads, ser, expected) => {
    expect(brief(runRules(input(ser, { registerReads }), rs).failures)).toEqual(expected);
  });

  test('reads off the interval grid cannot be compared: skipped', () => {
    const registerReads = [
      { ts: T0 + 60_000, value: 1000 },
      { ts: END - 60_000, value: 1030 },
    ];
    const r = runRules(input(s, { registerReads }), rs);
    expect(r.failures).toEqual([]);
    expect(r.skipped.map((x) => x.rule)).toEqual(['sum_check']);
  });
});

describe('multiplier_unit', () => {
  const rs = only('multiplier_unit');
  test('an interval above the service limit (residential 100 kW = 25 kWh per 15 min)', () => {
    const r = runRules(input(daySeries(WED, 0.25, { 10: 30 })), rs);
    expect(brief(r.failures)).toEqual([
      { intervals: [10], data: { count: 1, maxKw: 120, limitKw: 100 } },
    ]);
    expect(r.skipped).toEqual([
      { rule: 'multiplier_unit', reason: 'scale test: 0 history days, 7 needed' },
    ]);
  });

  test.each<[string, number, number, Partial<VeeInput>, string | null]>([
    ['Wh reported as kWh', 1, 1000, {}, 'values look like Wh reported as kWh'],
    [
      'multiplier applied twice',
      10,
      200,
      { meter: meter({ multiplier: 20 }) },
      'the multiplier ×20 looks applied twice',
    ],
    [
      'multiplier not applied',
      10,
      0.5,
      { meter: meter({ multiplier: 20 }) },
      'the multiplier ×20 looks not applied',
    ],
    ['kWh reported as Wh', 24, 0.024, {}, 'values look like kWh reported as Wh'],
    ['an export channel may be low', 10, 0.5, { meter: meter({ channel: 'received' }) }, null],
    // received: against the best history day (10 here, as all days are equal)
    [
      'export ×100',
      10,
      1000,
      { meter: meter({ channel: 'received' }) },
      'values are ×100 the usual scale',
    ],
    ['twice the usual use is weather, not scale', 10, 20, {}, null],
  ])('%s', (_name, historyMean, dayTotal, over, expected) => {
    const s = daySeries(WED, dayTotal / 96);
    const r = runRules(
      input(s, { history: { dailyTotals: new Array(7).fill(historyMean) }, ...over }),
      rs,
    );
    expect(r.failures.map((f) => f.detail.split(': ').pop())).toEqual(expected ? [expected] : []);
    for (const f of r.failures) expect(f.data!.ratio).toBeCloseTo(dayTotal / historyMean, 4);
  });
});

test('export is compared with the best history day, usage with the average', () => {
  // history: six days of 1 kWh and one of 10: average 16/7 = 2.29, best 10; the day has 40 kWh
  const history = { dailyTotals: [1, 1, 1, 1, 1, 1, 10] };
  const s = daySeries(WED, 40 / 96);
  const ratios = (channel: 'delivered' | 'received') =>
    runRules(
      input(s, { history, meter: meter({ channel }) }),
      only('multiplier_unit'),
    ).failures.map((f) => f.data!.ratio);
  expect(ratios('delivered')).toEqual([17.5]);
  expect(ratios('received')).toEqual([]); // ×4 the best day
});

describe('consecutive_identical', () => {
  const rs = only('consecutive_identical'); // residential: 360 min = 24 intervals
  const alternating = () =>
    daySeries(WED, null, Object.fromEntries(indexes(0, 96).map((i) => [i, i % 2 ? 0.2 : 0.3])));
  const held = (from: number, to: number, v: number) => {
    const s = alternating();
    for (let i = from; i < to; i++) s.values[i] = v;
    return s;
  };
  test.each<[string, ReturnType<typeof daySeries>, number[][]]>([
    ['24 intervals of 0.5 (6 h)', held(10, 34, 0.5), [indexes(10, 34)]],
    ['23 intervals of 0.5', held(10, 33, 0.5), []],
    ['48 zeros: the zero rule’s business', held(10, 58, 0), []],
    ['values alternate', alternating(), []],
  ])('%s', (_name, s, expected) => {
    expect(runRules(input(s), rs).failures.map((f) => f.intervals)).toEqual(expected);
  });

  test('estimated intervals are not a stuck register', () => {
    const s = held(10, 34, 0.5);
    s.quality = s.values.map((_v, i) => (i >= 10 && i < 34 ? Quality.ESTIMATED_INTERPOLATION : 0));
    expect(runRules(input(s), rs).failures).toEqual([]);
  });
});

describe('prolonged_estimation', () => {
  const rs = only('prolonged_estimation');
  const withEstimates = (at: number[]) => {
    const s = daySeries(WED, 0.25);
    s.quality = s.values.map((_v, i) =>
      at.includes(i) ? Quality.ESTIMATED_HISTORY : Quality.VALID,
    );
    return s;
  };
  test.each<[string, number[], Array<{ intervals: number; count: number }>]>([
    [
      'a whole day estimated: a 24 h run, and 100 % of the window',
      indexes(0, 96),
      [
        { intervals: 96, count: 96 },
        { intervals: 96, count: 96 },
      ],
    ],
    [
      '10 of 96 (10.4 %) > 10 %',
      [1, 5, 9, 13, 17, 21, 25, 29, 33, 37],
      [{ intervals: 10, count: 10 }],
    ],
    ['9 of 96 (9.4 %)', [1, 5, 9, 13, 17, 21, 25, 29, 33], []],
  ])('%s', (_name, estimated, expected) => {
    const r = runRules(input(withEstimates(estimated)), rs);
    expect(
      r.failures.map((f) => ({ intervals: f.intervals.length, count: f.data!.count })),
    ).toEqual(expected);
  });
});

describe('runRules', () => {
  test('flags OR the bits of every failure; disabled rules do not run', () => {
    const rs = cloneRuleSet(DEFAULT_RULE_SETS.RESIDENTIAL);
    const s = wiggle(WED, { 5: null, 12: 2.0 });
    const r = runRules(input(s), rs);
    expect(r.failures.map((f) => f.rule)).toEqual(['missing', 'spike']);
    expect(r.flags[5]).toBe(RULE_BIT.missing);
    expect(r.flags[12]).toBe(RULE_BIT.spike);
    expect(rulesOfFlags(r.flags[12]!)).toEqual(['spike']);
    expect(r.flags.filter((f) => f !== 0)).toHaveLength(2);

    rs.rules.spike.enabled = false;
    rs.rules.missing.severity = 'error';
    const r2 = runRules(input(s), rs);
    expect(r2.failures.map((f) => [f.rule, f.severity])).toEqual([['missing', 'error']]);
    expect(r2.flags[12]).toBe(0);
  });

  test('failures come sorted by time, then rule order', () => {
    const s = wiggle(WED, { 12: 2.0, 40: -1, 41: null });
    const rs = cloneRuleSet(DEFAULT_RULE_SETS.RESIDENTIAL);
    const r = runRules(input(s), rs);
    expect(r.failures.map((f) => [f.rule, f.intervals[0]])).toEqual([
      ['spike', 12],
      ['negative', 40],
      ['missing', 41],
    ]);
  });

  test('RULE_BIT gives every rule its own bit of an int32', () => {
    const bits = RULE_IDS.map((id) => RULE_BIT[id]);
    expect(new Set(bits).size).toBe(RULE_IDS.length);
    for (const [i, b] of bits.entries()) expect(b).toBe(2 ** i);
    expect(Math.max(...bits)).toBeLessThan(2 ** 31);
    expect(RULE_IDS.slice(0, 3)).toEqual(['missing', 'interval_alignment', 'future']); // append-only
  });

  test.each<[string, Partial<VeeInput> & { series?: ReturnType<typeof series> }, ErrorCode]>([
    [
      'series on another grid',
      { meter: meter({ intervalSeconds: 3600 }) },
      ErrorCode.INTERVAL_LENGTH_MISMATCH,
    ],
    [
      'series start off the grid',
      { series: series(T0 + 60_000, [0.1]) },
      ErrorCode.MISALIGNED_INTERVAL,
    ],
    [
      'quality out of step with values',
      { series: { ...series(T0, [0.1, 0.2]), quality: [0] } },
      ErrorCode.BAD_USER_INPUT,
    ],
    ['unknown time zone', { meter: meter({ timeZone: 'Mars/Olympus' }) }, ErrorCode.BAD_TIME_ZONE],
    [
      'history on a zero-length grid',
      { history: { intervals: { ...series(T0 - 86_400_000, [0.1]), intervalSeconds: 0 } } },
      ErrorCode.BAD_USER_INPUT,
    ],
  ])('rejects %s', (_name, over, code) => {
    const call = () => runRules(input(daySeries(WED, 0.2), over), DEFAULT_RULE_SETS.RESIDENTIAL);
    expect(call).toThrow(MeterdataError);
    expect(errorCode(call)).toBe(code);
  });

  test('an empty window validates to nothing', () => {
    const r = runRules(input(series(T0, [])), DEFAULT_RULE_SETS.RESIDENTIAL);
    expect(r.failures).toEqual([]);
    expect(r.flags).toHaveLength(0);
  });

  test('other zones: local days follow the meter, not the process TZ', () => {
    // Same instant range, a Berlin meter: the window 2026-03-04T05:00Z.. starts at 06:00 local,
    // so its first local day holds 72 of 96 intervals and is still checked (≥ 50 % present).
    const s = daySeries(WED, 0.2, { 12: 2.0 });
    const r = runRules(input(s, { meter: meter({ timeZone: 'Europe/Berlin' }) }), only('spike'));
    expect(r.failures.map((f) => f.detail)).toEqual([
      expect.stringContaining('2026-03-04T09:00+01:00'),
    ]);
  });
});
