/**
 * The privacy rule for aggregates (src/auth/privacy.ts), table by table: the 15/15 test, the
 * residual (differencing) rule up the topology tree, per-interval counts, and fixed periods.
 */
import { type GroupNode, releaseAggregate, type PrivacyRule } from '../../src/auth/privacy';

const RULE: PrivacyRule = { minCustomers: 15, maxSharePercent: 15 };

/** A group: sub-groups, or meters as [customer, kWh per slot] (a number: the same every slot). */
interface Spec {
  key: string;
  children?: Spec[];
  meters?: Array<[string, number | Array<number | null>]>;
}

/** `n` customers named `${prefix}1…n`, one meter each, `kwh` per slot. */
const customers = (prefix: string, n: number, kwh = 1): Array<[string, number]> =>
  Array.from({ length: n }, (_, i) => [`${prefix}${i + 1}`, kwh]);

/** Evaluates `spec` as the requested group over `slots` slots, all in period 0 unless `periodOf`. */
function evaluate(spec: Spec, opts: { slots?: number; periodOf?: (s: number) => number } = {}) {
  const n = opts.slots ?? 1;
  const periodOf = opts.periodOf ?? (() => 0);
  const names: string[] = [];
  const values: Array<Array<number | null>> = [];
  const build = (sp: Spec): GroupNode => ({
    key: sp.key,
    children: (sp.children ?? []).map(build),
    meters: (sp.meters ?? []).map(([c, v]) => {
      names.push(c);
      values.push(Array.isArray(v) ? v : new Array(n).fill(v));
      return names.length - 1;
    }),
  });
  const root = build(spec);
  const periods = new Map<number, { sums: Array<number | null>; complete: boolean[] }>();
  for (let s = 0; s < n; s++) {
    const p = periodOf(s);
    const t = periods.get(p) ?? {
      sums: new Array<number | null>(names.length).fill(null),
      complete: new Array<boolean>(names.length).fill(true),
    };
    values.forEach((v, i) => {
      if (v[s] !== null) t.sums[i] = (t.sums[i] ?? 0) + v[s]!;
      else t.complete[i] = false;
    });
    periods.set(p, t);
  }
  const slots = Array.from({ length: n }, (_, s) => ({
    period: periodOf(s),
    values: values.map((v) => v[s] ?? null),
  }));
  return releaseAggregate({ root, customers: names, periods, slots, rule: RULE });
}

const released = (spec: Spec) => evaluate(spec).total[0] !== null;

describe('one group: at least 15 customers, none with 15 % or more', () => {
  test.each([
    ['15 customers', customers('c', 15), true, []],
    [
      '14 customers',
      customers('c', 14),
      false,
      ['14 customers with a complete day, fewer than 15'],
    ],
    ['1 customer', customers('c', 1), false, ['1 customer with a complete day, fewer than 15']],
    [
      '19 + one at 15.03 %',
      [...customers('c', 19), ['big', 3.36]],
      false,
      ['one customer has 15 % of the energy'],
    ],
    ['19 + one at 14.8 %', [...customers('c', 19), ['big', 3.3]], true, []],
    [
      '15 meters of 14 customers',
      [...customers('c', 14), ['c1', 1]],
      false,
      ['14 customers with a complete day, fewer than 15'],
    ],
  ] as Array<[string, Array<[string, number]>, boolean, string[]]>)(
    '%s',
    (_name, meters, ok, reasons) => {
      const r = evaluate({ key: 't', meters });
      expect(r.total[0] !== null).toBe(ok);
      expect(r.withheld[0]).toBe(!ok);
      expect(r.reasons).toEqual(reasons);
      expect(r.reporting[0]).toBe(meters.length);
    },
  );

  test('a released total is the sum of every meter', () => {
    expect(evaluate({ key: 't', meters: [...customers('c', 19), ['big', 3.3]] }).total).toEqual([
      22.3,
    ]);
  });

  test('a group nobody reported in is not withheld: it has no total', () => {
    const r = evaluate({ key: 't', meters: customers('c', 3).map(([c]) => [c, [null]]) });
    expect(r).toMatchObject({ total: [null], withheld: [false], reasons: [] });
  });
});

describe('groups that differ by a few customers cannot be subtracted', () => {
  const A = { key: 'A', meters: customers('a', 20) };
  test('one failing transformer withholds its feeder (else feeder − A = B)', () => {
    const B = { key: 'B', meters: customers('b', 1) };
    const F = { key: 'F', children: [A, B] };
    expect([released(A), released(B)]).toEqual([true, false]);
    const r = evaluate(F);
    expect(r.total).toEqual([null]);
    expect(r.reasons).toEqual([
      'the part outside its released sub-groups fails the rule (1 customer with a complete day, fewer than 15): a difference would reveal it',
    ]);
  });

  test('two failing transformers whose union passes leave the feeder released', () => {
    const F = {
      key: 'F',
      children: [
        A,
        { key: 'B', meters: customers('b', 8) },
        { key: 'C', meters: customers('c', 8) },
      ],
    };
    expect(evaluate(F).total).toEqual([36]);
  });

  test('two failing transformers whose union fails withhold the feeder', () => {
    const F = {
      key: 'F',
      children: [
        A,
        { key: 'B', meters: customers('b', 5) },
        { key: 'C', meters: customers('c', 5) },
      ],
    };
    expect(evaluate(F).total).toEqual([null]);
  });

  test('a residual dominated by one customer withholds the parent', () => {
    const D = { key: 'D', meters: [...customers('d', 19), ['big', 3.4] as [string, number]] };
    expect(released(D)).toBe(false);
    expect(evaluate({ key: 'F', children: [A, D] }).reasons).toEqual([
      'the part outside its released sub-groups fails the rule (one customer has 15 % of the energy): a difference would reveal it',
    ]);
  });

  test('up the tree: the residual is taken against the largest released sub-groups', () => {
    const B1 = { key: 'B', meters: customers('b', 1, 3) };
    const F1 = { key: 'F1', children: [A, B1] }; // withheld: F1 − A = B
    const F2 = { key: 'F2', children: [{ key: 'C', meters: customers('c', 16) }] }; // released
    expect([released(F1), released(F2)]).toEqual([false, true]);
    // system − F2 − A = B: one customer → withheld
    expect(evaluate({ key: 'S', children: [F1, F2] }).total).toEqual([null]);
    // with a failing but larger group beside B, system − (released) = B ∪ D passes
    const D = { key: 'D', meters: [...customers('d', 19), ['big', 3.4] as [string, number]] };
    const F3 = { key: 'F3', children: [{ key: 'E', meters: customers('e', 16) }, D] };
    expect(released(F3)).toBe(false);
    expect(evaluate({ key: 'S', children: [F1, F2, F3] }).total).toEqual([
      20 + 3 + 16 + 16 + 19 + 3.4,
    ]);
  });

  test('the residual is made of meters: a customer’s second meter elsewhere is not hidden by the first', () => {
    // a1 has a meter under T1 (released) and another under T3, alone: F − T1 = that meter
    const T1 = { key: 'T1', meters: customers('a', 20) };
    const T3 = { key: 'T3', meters: [['a1', 7] as [string, number]] };
    expect(evaluate({ key: 'F', children: [T1, T3] }).total).toEqual([null]);
  });
});

describe('missing data', () => {
  test('only customers with a complete day count: a day half of them missed is withheld', () => {
    const meters: Array<[string, Array<number | null>]> = customers('c', 20).map(([c], i) => [
      c,
      [1, i < 10 ? 1 : null, 1],
    ]);
    const r = evaluate({ key: 't', meters }, { slots: 3 });
    expect(r.total).toEqual([null, null, null]);
    expect(r.withheld).toEqual([true, true, true]);
    expect(r.reporting).toEqual([20, 10, 20]);
    expect(r.reasons).toEqual(['10 customers with a complete day, fewer than 15']);
    // with 16 complete customers every interval's total covers at least those 16
    const enough: Array<[string, Array<number | null>]> = customers('c', 20).map(([c], i) => [
      c,
      [1, i < 16 ? 1 : null, 1],
    ]);
    expect(evaluate({ key: 't', meters: enough }, { slots: 3 }).total).toEqual([20, 16, 20]);
  });

  test('missing data cannot shrink a residual to a few customers', () => {
    // B ∪ C would pass with 16 customers, but C missed an interval: F − A would then be B's
    // 8 customers alone in that interval, so F is withheld for the day.
    const r = evaluate(
      {
        key: 'F',
        children: [
          { key: 'A', meters: customers('a', 20) },
          { key: 'B', meters: customers('b', 8) },
          { key: 'C', meters: customers('c', 8).map(([c]) => [c, [1, null]]) },
        ],
      },
      { slots: 2 },
    );
    expect(r.total).toEqual([null, null]);
    expect(r.reasons).toEqual([
      'the part outside its released sub-groups fails the rule (8 customers with a complete day, fewer than 15): a difference would reveal it',
    ]);
  });

  test('decisions are per fixed period: each day stands alone', () => {
    // day 0: 20 equal customers; day 1: one of them uses most of the energy
    const meters: Array<[string, Array<number | null>]> = customers('c', 20).map(([c], i) => [
      c,
      [1, 1, 1, i === 0 ? 50 : 1],
    ]);
    const r = evaluate({ key: 't', meters }, { slots: 4, periodOf: (s) => (s < 2 ? 0 : 1) });
    expect(r.total).toEqual([20, 20, null, null]);
    expect(r.withheld).toEqual([false, false, true, true]);
  });
});
