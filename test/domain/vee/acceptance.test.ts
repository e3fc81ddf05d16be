/**
 * Fault-detection scoring: a hand-made report with exact numbers, then the default rule sets on a
 * simulated fleet (50 meters × 28 days, default fault rates, across the spring-forward change).
 */
import {
  formatUtc,
  NO_FAULTS,
  type FaultJson,
  type FaultReport,
} from '../../../src/domain/simulate';
import {
  scoreFaultDetection,
  type LocatedFailure,
  type RuleId,
  type Severity,
} from '../../../src/domain/vee';
import { runSimulated } from './simulated';

const START = Date.UTC(2026, 2, 4, 5);
const STEP = 900_000;
const starts = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => formatUtc(START + (from + k) * STEP));

function report(faults: FaultJson[], days = 3): FaultReport {
  const stats = { count: 0, affectedIntervals: 0 };
  return {
    seed: 1,
    meters: 2,
    days,
    start: formatUtc(START),
    intervalSeconds: 900,
    rates: { ...NO_FAULTS },
    summary: {
      gap: stats,
      spike: stats,
      zeroRun: stats,
      duplicate: stats,
      changedResend: stats,
      outage: stats,
    },
    cleanRows: 0,
    expectedRows: 0,
    faults,
  };
}

function failure(
  meterSerial: string,
  channel: 'delivered' | 'received',
  rule: RuleId,
  from: number,
  to: number,
  severity: Severity = 'warning',
): LocatedFailure {
  return {
    meterSerial,
    channel,
    rule,
    severity,
    from: START + from * STEP,
    to: START + to * STEP,
    intervals: [],
    detail: '',
  };
}

describe('scoreFaultDetection', () => {
  const M1 = 'MD00000001';
  const M2 = 'MD00000002';
  const faults: FaultJson[] = [
    { type: 'gap', meterSerial: M1, channel: 'delivered', intervalStarts: starts(10, 13) },
    {
      type: 'spike',
      meterSerial: M1,
      channel: 'delivered',
      intervalStarts: starts(40, 41),
      factor: 12,
    },
    {
      type: 'changedResend',
      meterSerial: M2,
      channel: 'delivered',
      intervalStarts: starts(20, 22),
    },
    {
      type: 'zeroRun',
      meterSerial: M2,
      channel: 'delivered',
      intervalStarts: starts(96 + 8, 96 + 16),
    },
    {
      type: 'duplicate',
      meterSerial: M1,
      channel: 'delivered',
      intervalStarts: starts(96 + 5, 96 + 6),
    },
    {
      type: 'outage',
      transformer: 'TX1',
      meterSerials: [M1, M2],
      intervalStarts: starts(192 + 60, 192 + 64),
    },
  ];
  const failures = [
    failure(M1, 'delivered', 'missing', 10, 13), // the gap: caught
    failure(M1, 'delivered', 'spike', 41, 42), // the interval after the spike: not caught
    failure(M2, 'received', 'conflicting_duplicate', 20, 22), // wrong channel: not caught
    failure(M2, 'delivered', 'zero_run', 96 + 10, 96 + 13), // overlaps the zero run: caught
    failure(M1, 'delivered', 'missing', 192 + 60, 192 + 64), // the outage on one of its two meters
    failure(M2, 'delivered', 'high_low', 0, 96), // a faulty meter-day: not a false positive
    failure(M1, 'delivered', 'spike', 96 + 5, 96 + 6), // on the identical duplicate, M1 day 1 is clean
    failure(M1, 'delivered', 'consecutive_identical', 96 + 30, 96 + 60, 'info'),
  ];

  test('recall per fault type and false positives per clean meter-day', () => {
    const s = scoreFaultDetection(report(faults), failures);
    expect(
      Object.fromEntries(
        Object.entries(s.byType).map(([t, v]) => [t, [v.injected, v.detected, v.recall]]),
      ),
    ).toEqual({
      gap: [1, 1, 1],
      spike: [1, 0, 0],
      zeroRun: [1, 1, 1],
      duplicate: [1, 1, null],
      changedResend: [1, 0, 0],
      outage: [1, 0, 0],
    });
    // 2 meters × 3 days; faulty: M1 d0 (gap, spike), M2 d0 (resend), M2 d1 (zero run), both d2
    // (outage); the identical duplicate leaves M1 d1 clean, and two rules fired on it.
    expect(s).toMatchObject({
      meterDays: 6,
      faultyMeterDays: 5,
      cleanMeterDays: 1,
      falsePositiveMeterDays: 1,
      falsePositiveRate: 1,
      falsePositivesByRule: { spike: 1, consecutive_identical: 1 },
      failures: 8,
    });
  });

  test('severity filter and detecting-rule overrides', () => {
    const s = scoreFaultDetection(report(faults), failures, {
      severities: ['warning', 'error'],
      detectingRules: { spike: ['spike', 'high_low'] },
    });
    expect(s.falsePositivesByRule).toEqual({ spike: 1 });
    expect(s.failures).toBe(7);
    expect(s.byType.spike.rules).toEqual(['spike', 'high_low']);
    expect(s.byType.spike.detected).toBe(0); // high_low was on M2
  });

  test('an outage counts as caught when every meter it hit has a missing failure over it', () => {
    const both = [...failures, failure(M2, 'delivered', 'missing', 192 + 62, 192 + 70)];
    expect(scoreFaultDetection(report(faults), both).byType.outage.detected).toBe(1);
  });
});

describe('default rule sets on a simulated fleet', () => {
  test('50 meters × 28 days: recall ≥ 95 % for gaps, spikes, zero runs, changed resends; false positives ≤ 0.5 % of clean meter-days', () => {
    // 2026-02-23 to 2026-03-23: winter load and the spring-forward day (92-interval local days)
    const run = runSimulated({
      meters: 50,
      days: 28,
      seed: 20260223,
      start: Date.UTC(2026, 1, 23, 5),
    });
    const s = scoreFaultDetection(run.report, run.failures);
    const lines = Object.entries(s.byType).map(
      ([t, v]) =>
        `${t.padEnd(14)} ${String(v.detected).padStart(4)} / ${String(v.injected).padEnd(4)} ` +
        (v.recall === null
          ? '(not expected to raise anything)'
          : `recall ${(v.recall * 100).toFixed(1)} %`),
    );
    console.log(
      [
        'VEE acceptance on simulated data (50 meters × 28 days, default fault rates):',
        ...lines,
        `false positives: ${s.falsePositiveMeterDays} of ${s.cleanMeterDays} clean meter-days ` +
          `(${(s.falsePositiveRate * 100).toFixed(3)} %) by rule ${JSON.stringify(s.falsePositivesByRule)}`,
      ].join('\n'),
    );
    for (const t of ['gap', 'spike', 'zeroRun', 'changedResend'] as const) {
      expect([t, s.byType[t].injected > 0, s.byType[t].recall! >= 0.95]).toEqual([t, true, true]);
    }
    expect(s.byType.duplicate.detected).toBe(0);
    expect(s.falsePositiveRate).toBeLessThanOrEqual(0.005);
    expect(s.cleanMeterDays).toBeGreaterThan(1000);
  });
});
