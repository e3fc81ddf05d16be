/**
 * RELIABILITY.md 25 end to end: planners (and customers) get totals of fixed topology groups
 * only, under the 15/15 rule, and no released total minus others isolates a failing group.
 *
 *   S-1 ─ F1 ─ T-A  16 customers × 1 kWh      released
 *        │    └ T-B   1 customer  × 2 kWh      withheld (1 customer)
 *        ├ F2 ─ T-C  16 customers × 1 kWh      released
 *        │    └ T-D  19 × 1 kWh + one × 3.4    withheld (one customer at 15.2 %)
 *        └ F3 ─ T-E  16 customers × 1 kWh      released
 *             ├ T-F   8 customers              withheld
 *             └ T-G   8 customers              withheld
 * F1 − T-A would be T-B's one customer and F2 − T-C would be T-D: both feeders are withheld.
 * F3 − T-E = T-F ∪ T-G (16 customers) passes: F3 is released. The system minus everything
 * released is T-B ∪ T-D (21 customers, largest 14 %): released.
 */
import { type TopologyDoc } from '../../src/domain/topology';
import { ingestItems } from '../../src/ingest/readings';
import { readings } from '../api/harness';
import { openAuthServer, type AuthServer } from './server';
import { bearer } from './tokens';

const DAY = '2025-03-01';
const GROUPS: Array<{ tx: string; feeder: string; kwh: number[] }> = [
  { tx: 'T-A', feeder: 'F1', kwh: new Array(16).fill(1) },
  { tx: 'T-B', feeder: 'F1', kwh: [2] },
  { tx: 'T-C', feeder: 'F2', kwh: new Array(16).fill(1) },
  { tx: 'T-D', feeder: 'F2', kwh: [...new Array(19).fill(1), 3.4] },
  { tx: 'T-E', feeder: 'F3', kwh: new Array(16).fill(1) },
  { tx: 'T-F', feeder: 'F3', kwh: new Array(8).fill(1) },
  { tx: 'T-G', feeder: 'F3', kwh: new Array(8).fill(1) },
];

function topology(): TopologyDoc {
  const doc: TopologyDoc = {
    substations: [{ code: 'S-1', name: null }],
    feeders: ['F1', 'F2', 'F3'].map((code) => ({ code, substation: 'S-1', name: null })),
    transformers: GROUPS.map((g) => ({
      code: g.tx,
      feeder: g.feeder,
      ratedKva: 50,
      phase: 'A' as const,
    })),
    accounts: [],
    servicePoints: [],
    meters: [],
  };
  for (const g of GROUPS) {
    g.kwh.forEach((_, i) => {
      const id = `${g.tx}-${i + 1}`;
      doc.accounts.push({ code: `ACC-${id}`, name: null, customerClass: 'RESIDENTIAL' });
      doc.servicePoints.push({
        code: `SP-${id}`,
        transformer: g.tx,
        premise: id,
        account: `ACC-${id}`,
        timeZone: 'UTC',
      });
      doc.meters.push({
        serial: `M-${id}`,
        servicePoint: `SP-${id}`,
        installedAt: '2024-01-01T00:00:00Z',
        commPath: 'RF_MESH',
      });
    });
  }
  return doc;
}

let s: AuthServer;
let planner: Record<string, string>;
let operator: Record<string, string>;

beforeAll(async () => {
  s = await openAuthServer({ topology: topology() });
  const items = GROUPS.flatMap((g) =>
    g.kwh.flatMap((kwh, i) => readings(`M-${g.tx}-${i + 1}`, `${DAY}T00:00:00Z`, 96, () => kwh)),
  );
  const r = await ingestItems(s.db.pool, items, { source: 'test', format: 'items' });
  expect(r.rejected).toBe(0);
  planner = await bearer('planner');
  operator = await bearer('operator');
}, 120_000);
afterAll(async () => s.close());

const AT = `${DAY}T10:00:00Z`;
const instant = (scope: string, who: Record<string, string>) =>
  s.gql(
    `{ instant(at: "${AT}"${scope}) { total reporting meterIds serials values quality } }`,
    who,
  );
const series = (tx: string, who: Record<string, string>) =>
  s.gql(
    `{ transformer(code: "${tx}") { series(from: "${DAY}T00:00:00Z", to: "${DAY}T02:00:00Z") {
        intervalSeconds total withheld meters { meterId } } } }`,
    who,
  );

const round = (x: number) => Math.round(x * 1e6) / 1e6;

describe('a planner sees totals of groups that pass, and nothing per meter', () => {
  test('a transformer that passes: its totals, no per-meter series', async () => {
    const r = await series('T-A', planner);
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.transformer.series).toEqual({
      intervalSeconds: 900,
      total: new Array(8).fill(16),
      withheld: new Array(8).fill(false),
      meters: null,
    });
  });

  test.each([
    ['T-B', /1 customer with a complete day, fewer than 15/],
    ['T-D', /one customer has 15 % of the energy/],
    ['T-F', /8 customers with a complete day, fewer than 15/],
  ])('%s is withheld with AGGREGATE_WITHHELD naming the rule', async (tx, why) => {
    const r = await series(tx, planner);
    expect(r.body.data).toEqual({ transformer: null });
    expect(r.body.errors).toEqual([
      expect.objectContaining({
        path: ['transformer', 'series'],
        extensions: { code: 'AGGREGATE_WITHHELD', minCustomers: 15, maxSharePercent: 15 },
      }),
    ]);
    const message: string = r.body.errors[0].message;
    expect(message).toContain(
      `the aggregate of transformer "${tx}" is withheld by the privacy rule`,
    );
    expect(message).toContain(
      "at least 15 customers with a complete day, none with 15 % or more of the group's energy in the day",
    );
    expect(message).toMatch(why);
  });

  test('instant totals: per-meter columns are null', async () => {
    const r = await instant(', transformerCode: "T-A"', planner);
    expect(r.body.data.instant).toEqual({
      total: 16,
      reporting: 16,
      meterIds: null,
      serials: null,
      values: null,
      quality: null,
    });
  });
});

describe('two overlapping aggregates never reveal one customer by difference', () => {
  test('F1 = T-A + one customer: T-A is released, so F1 is withheld', async () => {
    const a = await instant(', transformerCode: "T-A"', planner);
    const f1 = await instant(', feederCode: "F1"', planner);
    expect(a.body.data.instant.total).toBe(16);
    expect(f1.body.data).toBeNull();
    expect(f1.body.errors[0].extensions.code).toBe('AGGREGATE_WITHHELD');
    expect(f1.body.errors[0].message).toMatch(
      /feeder "F1" is withheld .*the part outside its released sub-groups fails the rule \(1 customer with a complete day, fewer than 15\): a difference would reveal it/,
    );
    // the operator sees that F1 itself would pass the 15/15 test: it is withheld for T-B's sake
    const op = await instant(', feederCode: "F1"', operator);
    expect(op.body.data.instant.serials).toHaveLength(17);
    expect(op.body.data.instant.total).toBe(18);
  });

  test('F2 − T-C would be a dominated group: withheld', async () => {
    const r = await instant(', feederCode: "F2"', planner);
    expect(r.body.errors[0].message).toMatch(/one customer has 15 % of the energy\): a difference/);
  });

  test('F3 − T-E is two failing groups that together pass: released', async () => {
    const e = await instant(', transformerCode: "T-E"', planner);
    const f3 = await instant(', feederCode: "F3"', planner);
    expect([e.body.data.instant.total, f3.body.data.instant.total]).toEqual([16, 32]);
    expect(
      (await instant(', transformerCode: "T-F"', planner)).body.errors[0].extensions.code,
    ).toBe('AGGREGATE_WITHHELD');
  });

  test('the system minus every released group is T-B ∪ T-D, never T-B alone', async () => {
    const system = await instant('', planner);
    expect(system.body.errors).toBeUndefined();
    const total = system.body.data.instant.total as number;
    expect(round(total)).toBe(round(16 + 2 + 16 + 22.4 + 32));
    const released: number[] = [];
    for (const scope of [
      ', transformerCode: "T-A"',
      ', transformerCode: "T-C"',
      ', feederCode: "F3"',
    ]) {
      released.push((await instant(scope, planner)).body.data.instant.total);
    }
    // what a planner can derive: 24.4 kWh of 21 customers, not the 2 kWh of T-B's one customer
    expect(round(total - released.reduce((a, b) => a + b, 0))).toBe(round(2 + 22.4));
    for (const scope of [
      ', feederCode: "F1"',
      ', feederCode: "F2"',
      ', transformerCode: "T-B"',
      ', transformerCode: "T-D"',
    ]) {
      expect((await instant(scope, planner)).body.errors[0].extensions.code).toBe(
        'AGGREGATE_WITHHELD',
      );
    }
  });

  test('privileged roles see every group and every meter', async () => {
    const r = await series('T-B', operator);
    expect(r.body.data.transformer.series).toMatchObject({
      total: new Array(8).fill(2),
      withheld: new Array(8).fill(false),
      meters: [{ meterId: expect.any(String) }],
    });
  });
});

test('a customer sees their own meter, and the totals of their groups under the same rule', async () => {
  const c = await bearer('customer', { accounts: ['ACC-T-A-1'] });
  const own = await s.gql(
    `{ meter(serial: "M-T-A-1") { series(from: "${DAY}T00:00:00Z", to: "${DAY}T01:00:00Z") { total } } }`,
    c,
  );
  expect(own.body.data.meter.series.total).toBe(4);
  const tx = await series('T-A', c);
  expect(tx.body.data.transformer.series).toMatchObject({
    total: new Array(8).fill(16),
    meters: null,
  });
  const f1 = await instant(', feederCode: "F1"', c);
  expect(f1.body.errors[0].extensions.code).toBe('AGGREGATE_WITHHELD');
  // a group outside the customer's part of the tree is not found at all
  const other = await instant(', transformerCode: "T-C"', c);
  expect(other.body.errors[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
});

test('planner instants cover every meter: intervalSeconds must suit them all', async () => {
  const r = await s.gql(`{ instant(at: "${AT}", intervalSeconds: 3600) { total } }`, planner);
  expect(round(r.body.data.instant.total)).toBe(round(4 * (16 + 2 + 16 + 22.4 + 32)));
});
