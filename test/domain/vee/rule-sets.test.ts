import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ErrorCode, MeterdataError } from '../../../src/errors';
import {
  DEFAULT_RULE_SETS,
  RULE_IDS,
  RULE_SPECS,
  checkRuleSet,
  cloneRuleSet,
  validateRuleSet,
  type ParamSpec,
  type RuleSetProblem,
} from '../../../src/domain/vee';
import { renderDefaultsTable } from './defaults-table';

interface Case {
  name: string;
  input: unknown;
  problems: RuleSetProblem[];
}
const { cases } = JSON.parse(
  readFileSync(path.join(__dirname, '../../fixtures/vee/rule-set-cases.json'), 'utf8'),
) as { cases: Case[] };

describe('rule set validation (fixtures/vee/rule-set-cases.json)', () => {
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = checkRuleSet(c.input);
    expect(r.ok ? [] : r.problems).toEqual(c.problems);
  });

  test('missing rules and parameters take the class defaults; given ones are kept', () => {
    const rs = validateRuleSet(cases[1]!.input);
    const base = DEFAULT_RULE_SETS.COMMERCIAL;
    expect(rs.name).toBe('commercial-tight');
    expect(rs.version).toBe(3);
    expect(rs.rules.spike.params).toEqual({ ...base.rules.spike.params, tolerancePercent: 250 });
    expect(rs.rules.missing).toEqual({ ...base.rules.missing, enabled: false });
    expect(rs.rules.negative.severity).toBe('warning');
    expect(rs.rules.multiplier_unit.params.maxKw).toBe(2500);
    expect(Object.keys(rs.rules)).toEqual([...RULE_IDS]);
  });

  test('validateRuleSet throws one BAD_USER_INPUT error listing every problem', () => {
    const bad = cases.find((c) => c.name === 'types and ranges')!;
    let err: unknown;
    try {
      validateRuleSet(bad.input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MeterdataError);
    const e = err as MeterdataError;
    expect(e.code).toBe(ErrorCode.BAD_USER_INPUT);
    expect(e.message).toMatch(
      /^invalid VEE rule set \(11 problems\): rules\.spike\.enabled: must be/,
    );
    expect(e.details).toEqual({ problems: bad.problems });
  });
});

describe('default rule sets', () => {
  test.each(Object.entries(DEFAULT_RULE_SETS))(
    '%s validates as it is and survives JSON',
    (cls, rs) => {
      expect(rs.meterClass).toBe(cls);
      expect(validateRuleSet(JSON.parse(JSON.stringify(rs)))).toEqual(rs);
    },
  );

  test('are frozen; cloneRuleSet gives an editable copy', () => {
    const rs = DEFAULT_RULE_SETS.RESIDENTIAL;
    expect(Object.isFrozen(rs.rules.spike.params)).toBe(true);
    const copy = cloneRuleSet(rs);
    copy.rules.spike.params.tolerancePercent = 1;
    expect(rs.rules.spike.params.tolerancePercent).toBe(400);
  });

  test('every parameter is documented with a source and its defaults are in range', () => {
    for (const id of RULE_IDS) {
      const spec = RULE_SPECS[id];
      expect(spec.id).toBe(id);
      expect(spec.description.length).toBeGreaterThan(20);
      for (const [name, p] of Object.entries(spec.params as Record<string, ParamSpec>)) {
        expect([id, name, p.description.length > 5]).toEqual([id, name, true]);
        expect([id, name, /DOMAIN\.md|our default/.test(p.source)]).toEqual([id, name, true]);
      }
    }
  });

  test('the documented defaults (the table in the report)', () => {
    const row = (cls: keyof typeof DEFAULT_RULE_SETS) =>
      Object.fromEntries(RULE_IDS.map((id) => [id, DEFAULT_RULE_SETS[cls].rules[id].params]));
    expect(row('RESIDENTIAL')).toEqual({
      missing: { minIntervals: 1, excludeOutages: true, graceMinutes: 360 },
      interval_alignment: {},
      future: { toleranceSeconds: 3600 },
      pre_installation: {},
      conflicting_duplicate: { minDifferenceKwh: 0.0001 },
      negative: { toleranceKwh: 0, checkReceived: true },
      zero_run: {
        minMinutes: 120,
        minExpectedShare: 0.95,
        minHistoryDays: 7,
        minDailyKwh: 1,
        checkReceived: false,
      },
      high_low: {
        minHistoryDays: 7,
        highFactor: 4,
        lowFactor: 0.1,
        sigmas: 4,
        minMeanDailyKwh: 1,
        checkReceived: false,
      },
      spike: { tolerancePercent: 400, neighbourFactor: 5, minKw: 1, minCoveragePercent: 50 },
      sum_check: { tolerancePercent: 2, toleranceKwh: 1 },
      multiplier_unit: { maxKw: 100, ratio: 15, minHistoryDays: 7 },
      consecutive_identical: { minMinutes: 360 },
      prolonged_estimation: { minConsecutiveMinutes: 1440, maxWindowPercent: 10 },
    });
    expect(row('COMMERCIAL').multiplier_unit).toEqual({
      maxKw: 2500,
      ratio: 15,
      minHistoryDays: 7,
    });
    expect(row('INDUSTRIAL').spike).toEqual({
      tolerancePercent: 400,
      neighbourFactor: 5,
      minKw: 20,
      minCoveragePercent: 50,
    });
  });
});

describe('README', () => {
  test('the defaults table in src/domain/vee/README.md matches RULE_SPECS', () => {
    const readme = readFileSync(path.join(__dirname, '../../../src/domain/vee/README.md'), 'utf8');
    const table = readme
      .split('<!-- defaults-table:start -->\n')[1]
      ?.split('<!-- defaults-table:end -->')[0];
    expect(table).toBe(renderDefaultsTable());
  });
});
