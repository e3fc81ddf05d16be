/**
 * VEE acceptance through the real write path: 30 simulated meters × 28 days (after 28 clean
 * days of history), default fault rates, scored from the stored exceptions.
 */
import { runVeeAcceptance } from '../../src/ingest/vee-acceptance';
import { openTestDatabase, type TestDatabase } from '../helpers/db';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db.close();
});

test('recall ≥ 95 % for gaps, spikes, zero runs and conflicting duplicates; FP ≤ 0.5 %', async () => {
  const r = await runVeeAcceptance(db.pool, {
    meters: 30,
    days: 28,
    seed: 20260223,
    start: Date.UTC(2026, 1, 23, 5),
  });
  const s = r.score!;
  const summary = {
    recall: Object.fromEntries(
      Object.entries(s.byType).map(([t, v]) => [t, `${v.detected}/${v.injected}`]),
    ),
    falsePositiveRate: s.falsePositiveRate,
    falsePositivesByRule: s.falsePositivesByRule,
    cleanMeterDays: s.cleanMeterDays,
    rows: r.rows,
    ingestMs: Math.round(r.ingestMs),
  };
  console.log(JSON.stringify(summary));
  for (const t of ['gap', 'spike', 'zeroRun', 'changedResend'] as const) {
    if (s.byType[t].injected > 0) expect([t, s.byType[t].recall]).toEqual([t, expect.any(Number)]);
    if (s.byType[t].injected > 0) expect(s.byType[t].recall!).toBeGreaterThanOrEqual(0.95);
  }
  expect(s.falsePositiveRate).toBeLessThanOrEqual(0.005);
}, 300_000);
