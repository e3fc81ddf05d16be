/**
 * What each rule's parameters mean, their ranges and documented defaults (with where each
 * default comes from), the default rule set per meter class, and the validation of rule sets
 * that come from outside (database, GraphQL).
 */
import { ErrorCode, MeterdataError } from '../../errors';
import { CUSTOMER_CLASSES } from '../topology';
import {
  RULE_IDS,
  SEVERITIES,
  isRuleId,
  type MeterClass,
  type RuleConfig,
  type RuleConfigs,
  type RuleId,
  type RuleParamsMap,
  type RuleSet,
  type Severity,
} from './types';

export interface ParamSpec {
  type: 'number' | 'integer' | 'boolean';
  /** inclusive lower bound (numbers) */
  min?: number;
  /** inclusive upper bound (numbers) */
  max?: number;
  /** when true, `min` itself is not allowed */
  minExclusive?: boolean;
  unit?: string;
  description: string;
  defaults: Readonly<Record<MeterClass, number | boolean>>;
  /** where the default comes from: DOMAIN.md (with its source) or "our default: …, why" */
  source: string;
}

export interface RuleSpec<K extends RuleId = RuleId> {
  id: K;
  title: string;
  description: string;
  defaultSeverity: Readonly<Record<MeterClass, Severity>>;
  params: { readonly [P in keyof RuleParamsMap[K]]: ParamSpec };
}

const each = <T>(v: T): Record<MeterClass, T> => ({
  RESIDENTIAL: v,
  COMMERCIAL: v,
  INDUSTRIAL: v,
});
const perClass = <T>(residential: T, commercial: T, industrial: T): Record<MeterClass, T> => ({
  RESIDENTIAL: residential,
  COMMERCIAL: commercial,
  INDUSTRIAL: industrial,
});

/** Every rule's documentation and parameters. The default rule sets are built from this. */
export const RULE_SPECS: { readonly [K in RuleId]: RuleSpec<K> } = {
  missing: {
    id: 'missing',
    title: 'Missing intervals',
    description:
      'Expected intervals without a value (due, within the installation period, not in a known ' +
      'outage). One failure per run of consecutive missing intervals.',
    defaultSeverity: each('warning'),
    params: {
      minIntervals: {
        type: 'integer',
        min: 1,
        max: 100_000,
        description: 'report runs of at least this many missing intervals',
        defaults: each(1),
        source:
          'DOMAIN.md (Oracle/Itron catalogues): every expected interval not received is a "missing quantity" exception',
      },
      excludeOutages: {
        type: 'boolean',
        description: 'intervals touched by a known outage are zero usage, not missing data',
        defaults: each(true),
        source:
          'DOMAIN.md: "an outage is zero usage, not missing data" (Oracle\'s outage storm mode)',
      },
      graceMinutes: {
        type: 'number',
        min: 0,
        max: 10_080,
        unit: 'min',
        description: 'intervals ending less than this long before `now` are not due yet',
        defaults: each(360),
        source:
          'DOMAIN.md: head-ends export every few hours; Oracle MDM suggests loading and running VEE every 4–6 hours, so the last 6 h may simply not have arrived',
      },
    },
  },
  interval_alignment: {
    id: 'interval_alignment',
    title: 'Interval size and alignment',
    description:
      "Received readings whose interval length differs from the meter's, or whose start is not " +
      'on an interval boundary (UTC epoch grid, as stored). One failure per run of like readings.',
    defaultSeverity: each('error'),
    params: {},
  },
  future: {
    id: 'future',
    title: 'Future timestamps',
    description: 'Values for intervals that end after `now` plus the clock tolerance.',
    defaultSeverity: each('error'),
    params: {
      toleranceSeconds: {
        type: 'integer',
        min: 0,
        max: 86_400,
        unit: 's',
        description: 'clock tolerance',
        defaults: each(3600),
        source:
          'our default: 1 h, the same as the ingest clock tolerance (MD_CLOCK_TOLERANCE_SECONDS), so the two never disagree',
      },
    },
  },
  pre_installation: {
    id: 'pre_installation',
    title: 'Outside the installation period',
    description: 'Values for intervals starting before installation or at/after removal.',
    defaultSeverity: each('error'),
    params: {},
  },
  conflicting_duplicate: {
    id: 'conflicting_duplicate',
    title: 'Duplicate with a conflicting value',
    description:
      'The same interval received more than once with different values. One failure per run ' +
      'of consecutive conflicting intervals.',
    defaultSeverity: each('warning'),
    params: {
      minDifferenceKwh: {
        type: 'number',
        min: 0,
        max: 1_000_000,
        unit: 'kWh',
        description:
          'values closer than this are the same reading (and so are values equal as float4, the stored type)',
        defaults: each(0.0001),
        source:
          'our default: 0.1 Wh, the resolution of values exported with 4 decimals of kWh; smaller differences are rounding, not a resend',
      },
    },
  },
  negative: {
    id: 'negative',
    title: 'Negative consumption',
    description:
      'Negative interval values (delivered channel; received too when checkReceived: both ' +
      'channels hold magnitudes), and cumulative register reads that go backwards.',
    defaultSeverity: each('error'),
    params: {
      toleranceKwh: {
        type: 'number',
        min: 0,
        max: 1_000_000,
        unit: 'kWh',
        description: 'values (and register decreases) within this of zero are accepted',
        defaults: each(0),
        source:
          'DOMAIN.md / RELIABILITY.md #9: a negative delivered value or a register going backwards is an exception; no tolerance',
      },
      checkReceived: {
        type: 'boolean',
        description: 'also check the received (export) channel',
        defaults: each(true),
        source:
          'our default: channels hold magnitudes per flow direction (net is delivered − received), so a negative export is as wrong as a negative import',
      },
    },
  },
  zero_run: {
    id: 'zero_run',
    title: 'Zero-consumption run',
    description:
      "A run of actual zero values where the meter's history says usage is expected: at those " +
      'local times of day the meter recorded usage on at least minExpectedShare of its history ' +
      'days (or, with daily totals only, its daily average is at least minDailyKwh).',
    defaultSeverity: each('warning'),
    params: {
      minMinutes: {
        type: 'integer',
        min: 1,
        max: 100_000,
        unit: 'min',
        description: 'runs of at least this long are checked',
        defaults: each(120),
        source:
          'our default: 2 h (8 intervals of 15 min); a premise with any standby load never measures exactly zero that long, while shorter zero runs happen when rooftop PV nets usage away',
      },
      minExpectedShare: {
        type: 'number',
        min: 0,
        max: 1,
        minExclusive: true,
        description:
          'share of history days with usage at the same local times for usage to count as expected',
        defaults: each(0.95),
        source:
          'our default: 95 % (at most one day without usage in 28): a meter without PV records usage ~100 % of the time, as does a PV meter at night; around sunrise and sunset PV netting shifts with the season (a late-March run at 16:15–19:00 met 90.6 % against a February history in simulation)',
      },
      minHistoryDays: {
        type: 'integer',
        min: 1,
        max: 3660,
        unit: 'days',
        description: 'history days needed before the rule judges a run',
        defaults: each(7),
        source: 'our default: one week, one full weekly cycle',
      },
      minDailyKwh: {
        type: 'number',
        min: 0,
        max: 1_000_000,
        unit: 'kWh/day',
        description:
          'fallback without interval history: usage is expected when the history daily average is at least this',
        defaults: each(1),
        source:
          'our default: 1 kWh/day; below it the premise is practically vacant and zeros are plausible',
      },
      checkReceived: {
        type: 'boolean',
        description: 'also check the received (export) channel',
        defaults: each(false),
        source:
          'our default: no; export is zero whenever usage exceeds generation (clouds, air conditioning), so a zero-export run says nothing about the meter',
      },
    },
  },
  high_low: {
    id: 'high_low',
    title: 'High / low daily usage',
    description:
      "Local-day totals outside limits from the meter's own history, normalised by average " +
      'daily use: high limit = max(highFactor·mean, mean + sigmas·σ), low limit = min(lowFactor·mean, ' +
      'mean − sigmas·σ) (the wider of the two, so variable meters are not flagged for their ' +
      'variability). High is checked on the present values of any day (a lower bound of its ' +
      'total), low only on complete days.',
    defaultSeverity: each('warning'),
    params: {
      minHistoryDays: {
        type: 'integer',
        min: 2,
        max: 3660,
        unit: 'days',
        description: 'history days needed',
        defaults: each(7),
        source: 'our default: one week, one full weekly cycle',
      },
      highFactor: {
        type: 'number',
        min: 1,
        max: 1000,
        minExclusive: true,
        description: 'high limit as a multiple of the average daily use',
        defaults: perClass(4, 3, 3),
        source:
          "DOMAIN.md: limits normalised by average daily use; our default: ×4 residential (an EV charging day or a cold snap can double or triple a home's use), ×3 commercial/industrial (steadier)",
      },
      lowFactor: {
        type: 'number',
        min: 0,
        max: 1,
        description: 'low limit as a fraction of the average daily use',
        defaults: perClass(0.1, 0.1, 0.1),
        source:
          'our default: 10 %; standby load alone is 30–40 % of an average day, so less than 10 % means a meter or data fault, not a vacation',
      },
      sigmas: {
        type: 'number',
        min: 0,
        max: 100,
        description: 'k in mean ± k·σ of the history daily totals',
        defaults: each(4),
        source:
          'our default: 4σ, about one false alarm in 15,000 days for normally distributed totals',
      },
      minMeanDailyKwh: {
        type: 'number',
        min: 0,
        max: 1_000_000,
        unit: 'kWh/day',
        description: 'meters whose history average is below this are not checked',
        defaults: each(1),
        source: 'our default: 1 kWh/day; ratios to a near-zero average are meaningless',
      },
      checkReceived: {
        type: 'boolean',
        description: 'also check the received (export) channel',
        defaults: each(false),
        source:
          "our default: no; export follows sunshine and season, not the customer's use (a sunny March day exported 6× a February history's average in simulation); implausible export is left to multiplier_unit",
      },
    },
  },
  spike: {
    id: 'spike',
    title: 'Spike',
    description:
      "Within each local day (23, 24 or 25 h: the day the meter's customer, bills and roll-ups " +
      'use; Oracle\'s "24-hour chunk"), two tests: Oracle\'s form, the highest interval vs the ' +
      'third-highest, failing when (highest − third) / third exceeds tolerancePercent (every ' +
      'interval above that limit is flagged: one- and two-interval spikes); and an isolation ' +
      'test, an interval more than neighbourFactor times both neighbours and the upper quartile ' +
      "of the day's non-zero values, which catches a spike hidden under a legitimately high day " +
      'maximum (e.g. EV charging). Only intervals of at least minKw average demand are flagged.',
    defaultSeverity: each('warning'),
    params: {
      tolerancePercent: {
        type: 'number',
        min: 0,
        max: 1_000_000,
        unit: '%',
        description:
          'Oracle form: exception when (highest − third-highest) / third-highest × 100 exceeds this',
        defaults: each(400),
        source:
          'DOMAIN.md (Oracle spike check; no default given); our default: 400 % (highest > 5× third-highest): at 300 % two-interval appliance bursts (4–5 kW) on low-use days fail it; on simulated months 400 % halves those false alarms while the isolation test keeps recall ≥ 99 %',
      },
      neighbourFactor: {
        type: 'number',
        min: 0,
        max: 1_000_000,
        description:
          "isolation test: flagged when above this multiple of both neighbours and the upper quartile of the day's non-zero values (0 disables)",
        defaults: each(5),
        source:
          "our default: ×5; consumption rarely jumps 5× above its busy-hour level for a single interval and straight back (appliances run 30 min and more), while a ×10 spike does even on an EV-charging day; Oracle's form alone caught only 85–91 % of simulated ×10–50 spikes",
      },
      minKw: {
        type: 'number',
        min: 0,
        max: 1_000_000,
        unit: 'kW',
        description: 'intervals below this average demand are never spikes',
        defaults: perClass(1, 5, 20),
        source:
          'our default: a jump below 1 kW (residential), 5 kW (commercial), 20 kW (industrial) is within the normal switching of one appliance or machine and not worth an exception',
      },
      minCoveragePercent: {
        type: 'number',
        min: 0,
        max: 100,
        unit: '%',
        description: 'a local day is checked when at least this share of its intervals is present',
        defaults: each(50),
        source: 'our default: half a day; fewer values make "third-highest" meaningless',
      },
    },
  },
  sum_check: {
    id: 'sum_check',
    title: 'Sum check against register reads',
    description:
      'For consecutive register reads on interval boundaries inside the window, the sum of the ' +
      'intervals between them vs the register difference. Spans with missing intervals are left ' +
      'to the missing rule; a register going backwards to the negative rule.',
    defaultSeverity: each('warning'),
    params: {
      tolerancePercent: {
        type: 'number',
        min: 0,
        max: 100,
        unit: '%',
        description: 'allowed difference as a share of the register difference',
        defaults: each(2),
        source:
          'our default: 2 %; both numbers come from the same meter, so only rounding and a meter-class accuracy (0.2–2 %) separate them',
      },
      toleranceKwh: {
        type: 'number',
        min: 0,
        max: 1_000_000,
        unit: 'kWh',
        description: 'allowed absolute difference (the larger of the two tolerances applies)',
        defaults: each(1),
        source: 'our default: 1 kWh, the resolution of a register read in whole kWh',
      },
    },
  },
  multiplier_unit: {
    id: 'multiplier_unit',
    title: 'Multiplier and unit plausibility',
    description:
      'Intervals above what the service can deliver (maxKw), and local days whose total differs ' +
      'from the history by a scale factor: Wh reported as kWh (×1000), a multiplier applied twice ' +
      'or not at all. Delivered: ≥ ratio × the history average, or ≤ its inverse on complete days. ' +
      "Received: ≥ ratio × the history's highest day (export swings with sunshine and season).",
    defaultSeverity: each('error'),
    params: {
      maxKw: {
        type: 'number',
        min: 0,
        max: 10_000_000,
        minExclusive: true,
        unit: 'kW',
        description: 'highest average demand an interval may show',
        defaults: perClass(100, 2500, 50_000),
        source:
          'our default: the largest common services: residential 400 A × 240 V ≈ 96 kW; commercial 3,000 A × 480 V three-phase ≈ 2.5 MW; industrial 50 MW (sub-transmission)',
      },
      ratio: {
        type: 'number',
        min: 1,
        max: 1_000_000,
        minExclusive: true,
        description:
          'a local day total at least this many times the history average (or at most its inverse) is a scale error',
        defaults: each(15),
        source:
          'our default: ×15, below the smallest scale error we look for (a CT multiplier of 20 applied twice; Wh as kWh is ×1000) and far above weather-driven swings (×3–4)',
      },
      minHistoryDays: {
        type: 'integer',
        min: 1,
        max: 3660,
        unit: 'days',
        description: 'history days needed for the ratio test (maxKw needs none)',
        defaults: each(7),
        source: 'our default: one week, one full weekly cycle',
      },
    },
  },
  consecutive_identical: {
    id: 'consecutive_identical',
    title: 'Consecutive identical values',
    description:
      'The same non-zero actual value held over a run of consecutive intervals (a stuck register ' +
      'or a repeated last value). Estimated intervals are left to prolonged_estimation.',
    defaultSeverity: each('warning'),
    params: {
      minMinutes: {
        type: 'integer',
        min: 1,
        max: 100_000,
        unit: 'min',
        description: 'runs of at least this long fail',
        defaults: perClass(360, 720, 1440),
        source:
          'our default: a load measured to 0.1 Wh does not repeat exactly for 6 h (residential); commercial 12 h and industrial 24 h allow for constant process loads and coarser registers',
      },
    },
  },
  prolonged_estimation: {
    id: 'prolonged_estimation',
    title: 'Prolonged estimation',
    description:
      'Too many estimated (substituted: ESPI 8, 9, 11, 12, 15) intervals in a row, or as a share ' +
      'of the due intervals of the window.',
    defaultSeverity: each('warning'),
    params: {
      minConsecutiveMinutes: {
        type: 'integer',
        min: 1,
        max: 1_000_000,
        unit: 'min',
        description: 'a run of estimates at least this long fails',
        defaults: each(1440),
        source:
          'our default: a whole day of estimates in a row means the meter is not communicating and needs a field visit or an actual read',
      },
      maxWindowPercent: {
        type: 'number',
        min: 0,
        max: 100,
        unit: '%',
        description: 'the window fails when estimates exceed this share of its due intervals',
        defaults: each(10),
        source:
          'DOMAIN.md: billing exports carry data-quality thresholds as percentages of intervals; our default: 10 % (3 days of a billing month)',
      },
    },
  },
};

function defaultRuleSet(meterClass: MeterClass): RuleSet {
  const rules = {} as Record<RuleId, RuleConfig>;
  for (const id of RULE_IDS) {
    const spec: RuleSpec = RULE_SPECS[id] as RuleSpec;
    const params: Record<string, number | boolean> = {};
    for (const [name, p] of Object.entries(spec.params as Record<string, ParamSpec>)) {
      params[name] = p.defaults[meterClass];
    }
    rules[id] = {
      enabled: true,
      severity: spec.defaultSeverity[meterClass],
      params: params as RuleParamsMap[RuleId],
    };
  }
  return {
    name: `default-${meterClass.toLowerCase()}`,
    meterClass,
    version: 1,
    rules: rules as RuleConfigs,
  };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** The documented defaults per meter class (frozen: copy with `cloneRuleSet` to change one). */
export const DEFAULT_RULE_SETS: Readonly<Record<MeterClass, RuleSet>> = deepFreeze({
  RESIDENTIAL: defaultRuleSet('RESIDENTIAL'),
  COMMERCIAL: defaultRuleSet('COMMERCIAL'),
  INDUSTRIAL: defaultRuleSet('INDUSTRIAL'),
});

/** A mutable deep copy. */
export function cloneRuleSet(ruleSet: RuleSet): RuleSet {
  return JSON.parse(JSON.stringify(ruleSet)) as RuleSet;
}

// ---------------------------------------------------------------------------------------------
// Validation

export interface RuleSetProblem {
  /** where in the input, e.g. `rules.spike.params.tolerancePercent` */
  path: string;
  message: string;
}

export type RuleSetCheck =
  { ok: true; ruleSet: RuleSet } | { ok: false; problems: RuleSetProblem[] };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'an array' : typeof v;
}

function rangeText(p: ParamSpec): string {
  const lo = p.min === undefined ? '' : `${p.minExclusive ? '>' : '≥'} ${p.min}`;
  const hi = p.max === undefined ? '' : `≤ ${p.max}`;
  return [lo, hi].filter(Boolean).join(' and ');
}

function checkParam(path: string, v: unknown, p: ParamSpec, problems: RuleSetProblem[]): boolean {
  if (p.type === 'boolean') {
    if (typeof v !== 'boolean') {
      problems.push({ path, message: `must be true or false, got ${describe(v)}` });
      return false;
    }
    return true;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    problems.push({ path, message: `must be a finite number, got ${describe(v)}` });
    return false;
  }
  if (p.type === 'integer' && !Number.isInteger(v)) {
    problems.push({ path, message: `must be a whole number, got ${v}` });
    return false;
  }
  const low = p.min !== undefined && (p.minExclusive ? v <= p.min : v < p.min);
  const high = p.max !== undefined && v > p.max;
  if (low || high) {
    const unit = p.unit ? ` ${p.unit}` : '';
    problems.push({ path, message: `must be ${rangeText(p)}${unit}, got ${v}` });
    return false;
  }
  return true;
}

/**
 * Checks a rule set from outside and returns it typed, or every problem found (path + message).
 * `meterClass` must be a customer class; rules and parameters the input leaves out take that
 * class's documented defaults, so a rule set stored before a rule or parameter existed keeps
 * working. Unknown rules, unknown parameters, wrong types and out-of-range values are problems.
 */
export function checkRuleSet(input: unknown): RuleSetCheck {
  const problems: RuleSetProblem[] = [];
  if (!isObject(input)) {
    return {
      ok: false,
      problems: [{ path: '', message: `must be an object, got ${describe(input)}` }],
    };
  }
  for (const key of Object.keys(input)) {
    if (!['name', 'meterClass', 'version', 'rules'].includes(key)) {
      problems.push({
        path: key,
        message: 'unknown field (expected name, meterClass, version, rules)',
      });
    }
  }
  const name = input.name;
  if (typeof name !== 'string' || name.trim() === '') {
    problems.push({ path: 'name', message: `must be a non-empty string, got ${describe(name)}` });
  }
  const version = input.version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    problems.push({
      path: 'version',
      message: `must be a whole number ≥ 1, got ${describe(version)}`,
    });
  }
  const meterClass = input.meterClass;
  const classOk =
    typeof meterClass === 'string' && (CUSTOMER_CLASSES as readonly string[]).includes(meterClass);
  if (!classOk) {
    problems.push({
      path: 'meterClass',
      message: `must be one of ${CUSTOMER_CLASSES.join(', ')}, got ${describe(meterClass)}`,
    });
  }
  const base = cloneRuleSet(
    DEFAULT_RULE_SETS[classOk ? (meterClass as MeterClass) : 'RESIDENTIAL'],
  );
  const rulesIn = input.rules ?? {};
  if (!isObject(rulesIn)) {
    problems.push({
      path: 'rules',
      message: `must be an object keyed by rule id, got ${describe(rulesIn)}`,
    });
  } else {
    for (const [id, cfg] of Object.entries(rulesIn)) {
      const path = `rules.${id}`;
      if (!isRuleId(id)) {
        problems.push({ path, message: `unknown rule (known: ${RULE_IDS.join(', ')})` });
        continue;
      }
      if (!isObject(cfg)) {
        problems.push({
          path,
          message: `must be an object {enabled, severity, params}, got ${describe(cfg)}`,
        });
        continue;
      }
      const target = base.rules[id] as RuleConfig;
      for (const key of Object.keys(cfg)) {
        if (!['enabled', 'severity', 'params'].includes(key)) {
          problems.push({
            path: `${path}.${key}`,
            message: 'unknown field (expected enabled, severity, params)',
          });
        }
      }
      if (cfg.enabled !== undefined) {
        if (typeof cfg.enabled === 'boolean') target.enabled = cfg.enabled;
        else
          problems.push({
            path: `${path}.enabled`,
            message: `must be true or false, got ${describe(cfg.enabled)}`,
          });
      }
      if (cfg.severity !== undefined) {
        if (
          typeof cfg.severity === 'string' &&
          (SEVERITIES as readonly string[]).includes(cfg.severity)
        ) {
          target.severity = cfg.severity as Severity;
        } else {
          problems.push({
            path: `${path}.severity`,
            message: `must be one of ${SEVERITIES.join(', ')}, got ${describe(cfg.severity)}`,
          });
        }
      }
      if (cfg.params !== undefined) {
        if (!isObject(cfg.params)) {
          problems.push({
            path: `${path}.params`,
            message: `must be an object, got ${describe(cfg.params)}`,
          });
          continue;
        }
        const specs = RULE_SPECS[id].params as Record<string, ParamSpec>;
        const params = target.params as Record<string, number | boolean>;
        for (const [pname, v] of Object.entries(cfg.params)) {
          const spec = specs[pname];
          const ppath = `${path}.params.${pname}`;
          if (!spec) {
            const known = Object.keys(specs);
            problems.push({
              path: ppath,
              message: `unknown parameter (${known.length ? `known: ${known.join(', ')}` : 'this rule has none'})`,
            });
            continue;
          }
          if (checkParam(ppath, v, spec, problems)) params[pname] = v as number | boolean;
        }
      }
    }
  }
  if (problems.length) return { ok: false, problems };
  base.name = (name as string).trim();
  base.version = version as number;
  return { ok: true, ruleSet: base };
}

/**
 * Like `checkRuleSet`, but throws a MeterdataError (BAD_USER_INPUT) listing every problem; the
 * problems are also in `details.problems` for GraphQL extensions.
 */
export function validateRuleSet(input: unknown): RuleSet {
  const r = checkRuleSet(input);
  if (r.ok) return r.ruleSet;
  const list = r.problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ');
  throw new MeterdataError(
    ErrorCode.BAD_USER_INPUT,
    `invalid VEE rule set (${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}): ${list}`,
    { details: { problems: r.problems } },
  );
}
