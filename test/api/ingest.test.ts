import { sql } from '@databases/pg';
import { readDays } from '../../src/storage/readings';
import { metersBySerials } from '../../src/storage/topology';
import { openApi, readings, type Api } from './harness';

let api: Api;
let m2: number;
beforeAll(async () => {
  api = await openApi({ maxMutationBatch: 200 });
  m2 = (await metersBySerials(api.db.pool, ['M-2']))[0]!.id;
});
afterAll(() => api.close());

const INGEST = `mutation($input: IngestReadingsInput!) {
  ingestReadings(input: $input) {
    batchId accepted unchanged changed rejected
    rejections { index code message meterSerial }
  }
}`;

const items = (start: string, n: number, f: (i: number) => number) =>
  readings('M-2', start, n, f).map((r) => ({ ...r, channel: 'DELIVERED' }));

const batchCount = async () =>
  Number((await api.db.pool.query(sql`SELECT count(*) AS n FROM ingest_batch`))[0].n);

describe('ingestReadings', () => {
  test('stores a batch; the same again is unchanged; a new value is changed', async () => {
    const input = { source: 'head-end-1', readings: items('2025-06-01T00:00:00Z', 96, () => 0.5) };
    const first = await api.gql(INGEST, { input });
    expect(first.errors).toBeUndefined();
    expect(first.data.ingestReadings).toMatchObject({
      accepted: 96,
      unchanged: 0,
      changed: 0,
      rejected: 0,
      rejections: [],
    });
    expect(typeof first.data.ingestReadings.batchId).toBe('string');
    const again = await api.gql(INGEST, { input });
    expect(again.data.ingestReadings).toMatchObject({ accepted: 0, unchanged: 96, changed: 0 });
    const edited = { readings: input.readings.map((r, i) => (i === 3 ? { ...r, value: 2 } : r)) };
    const third = await api.gql(INGEST, { input: edited });
    expect(third.data.ingestReadings).toMatchObject({ accepted: 0, unchanged: 95, changed: 1 });
    const [row] = await readDays(api.db.pool, m2, 1, 20240, 20240);
    expect(row!.vals[3]).toBe(2);
    const [batch] = await api.db.pool.query(
      sql`SELECT source, format FROM ingest_batch WHERE id = ${Number(first.data.ingestReadings.batchId)}`,
    );
    expect(batch).toEqual({ source: 'head-end-1', format: 'graphql' });
  });

  test('bad items are rejected one by one with codes; the rest is stored', async () => {
    const [ok, ...rest] = items('2025-06-02T00:00:00Z', 4, () => 1);
    const input = {
      readings: [
        ok,
        { ...rest[0], unit: 'kW' },
        { ...rest[1], meterSerial: 'NOPE' },
        { ...rest[2], intervalStart: '2025-06-02T00:07:00Z' },
        { ...ok, intervalStart: '2099-01-01T00:00:00Z' },
        { ...ok, intervalSeconds: 300 },
        { ...ok, channel: 'RECEIVED' },
        { ...ok, quality: 99 },
        { ...ok, value: 1e13 },
      ],
    };
    const r = await api.gql(INGEST, { input });
    expect(r.errors).toBeUndefined();
    expect(r.data.ingestReadings).toMatchObject({ accepted: 1, rejected: 8 });
    expect(
      r.data.ingestReadings.rejections.map((x: { index: number; code: string }) => [
        x.index,
        x.code,
      ]),
    ).toEqual([
      [1, 'BAD_UNIT'],
      [2, 'UNKNOWN_METER'],
      [3, 'MISALIGNED_INTERVAL'],
      [4, 'FUTURE_TIMESTAMP'],
      [5, 'INTERVAL_LENGTH_MISMATCH'],
      [6, 'UNKNOWN_CHANNEL'],
      [7, 'BAD_VALUE'],
      [8, 'BAD_VALUE'],
    ]);
    expect(r.data.ingestReadings.rejections[1].meterSerial).toBe('NOPE');
    expect(r.data.ingestReadings.rejections[0].message).toMatch(/kWh/);
  });

  test('values that are not GraphQL Floats never reach ingest', async () => {
    const before = await batchCount();
    const [ok] = items('2025-06-03T00:00:00Z', 1, () => 1);
    for (const value of ['NaN', 'Infinity', '1,5', null]) {
      const r = await api.gql(INGEST, { input: { readings: [{ ...ok, value }] } });
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    const noOffset = await api.gql(INGEST, {
      input: { readings: [{ ...ok, intervalStart: '2025-06-03T00:00:00' }] },
    });
    expect(noOffset.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const inline = await api.gql(`mutation {
      ingestReadings(input: { readings: [{ meterSerial: "M-2", channel: DELIVERED,
        intervalStart: "2025-06-03T00:00:00Z", intervalSeconds: 900, value: "1.5", unit: "kWh" }] }) {
        accepted
      }
    }`);
    expect(inline.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(await batchCount()).toBe(before);
  });

  test('a literal that overflows to Infinity is rejected as BAD_VALUE by domain validation', async () => {
    // graphql-js parses the literal 1e309 to Infinity without complaint; ingest refuses it.
    const r = await api.gql(`mutation {
      ingestReadings(input: { readings: [{ meterSerial: "M-2", channel: DELIVERED,
        intervalStart: "2025-06-03T00:00:00Z", intervalSeconds: 900, value: 1e309, unit: "kWh" }] }) {
        accepted rejected rejections { index code }
      }
    }`);
    expect(r.errors).toBeUndefined();
    expect(r.data.ingestReadings).toEqual({
      accepted: 0,
      rejected: 1,
      rejections: [{ index: 0, code: 'BAD_VALUE' }],
    });
  });

  test('a batch above maxMutationBatch is BATCH_TOO_LARGE and nothing is stored', async () => {
    const before = await batchCount();
    const r = await api.gql(INGEST, {
      input: { readings: items('2025-06-04T00:00:00Z', 201, () => 1) },
    });
    expect(r.errors?.[0]?.extensions?.code).toBe('BATCH_TOO_LARGE');
    expect(r.errors?.[0]?.message).toMatch(/maximum of 200/);
    expect(r.data).toBeNull();
    expect(await batchCount()).toBe(before);
    expect(await readDays(api.db.pool, m2, 1, 20243, 20243)).toEqual([]);
  });
});

const UPSERT = `mutation($input: TopologyInput!) {
  upsertTopology(input: $input) { substations feeders transformers accounts servicePoints meters }
}`;

describe('upsertTopology', () => {
  test('adds nodes under stored parents and updates by code', async () => {
    const input = {
      transformers: [{ code: 'TX-3', feeder: 'FDR-1', ratedKva: 25, phase: 'C' }],
      servicePoints: [
        { code: 'SP-4', transformer: 'TX-3', premise: '4 Oak St', timeZone: 'America/Chicago' },
      ],
      meters: [
        {
          serial: 'M-4',
          servicePoint: 'SP-4',
          installedAt: '2025-01-01T00:00:00-06:00',
          commPath: 'PLC',
          channels: ['DELIVERED', 'RECEIVED'],
          intervalSeconds: 300,
        },
      ],
    };
    const r = await api.gql(UPSERT, { input });
    expect(r.errors).toBeUndefined();
    expect(r.data.upsertTopology).toEqual({
      substations: 0,
      feeders: 0,
      transformers: 1,
      accounts: 0,
      servicePoints: 1,
      meters: 1,
    });
    const again = await api.gql(UPSERT, {
      input: { ...input, transformers: [{ ...input.transformers[0], ratedKva: 30 }] },
    });
    expect(again.errors).toBeUndefined();
    const m = await api.gql(`{
      meter(serial: "M-4") {
        intervalSeconds channels installedAt status multiplier timeZone transformer { ratedKva }
      }
    }`);
    expect(m.data.meter).toEqual({
      intervalSeconds: 300,
      channels: ['DELIVERED', 'RECEIVED'],
      installedAt: '2025-01-01T06:00:00.000Z',
      status: 'ACTIVE',
      multiplier: 1,
      timeZone: 'America/Chicago',
      transformer: { ratedKva: 30 },
    });
  });

  test('a name left out keeps the stored one; null clears it', async () => {
    const name = async () =>
      (await api.db.pool.query(sql`SELECT name FROM substation WHERE code = 'SUB-N'`))[0]?.name;
    const up = (sub: Record<string, unknown>) =>
      api.gql(UPSERT, { input: { substations: [{ code: 'SUB-N', ...sub }] } });
    expect((await up({ name: 'North' })).errors).toBeUndefined();
    expect(await name()).toBe('North');
    expect((await up({})).errors).toBeUndefined();
    expect(await name()).toBe('North');
    expect((await up({ name: null })).errors).toBeUndefined();
    expect(await name()).toBeNull();
  });

  test('unknown parents are UNKNOWN_TOPOLOGY_REFERENCE with every problem, nothing written', async () => {
    const r = await api.gql(UPSERT, {
      input: {
        transformers: [{ code: 'TX-9', feeder: 'FDR-404', ratedKva: 25, phase: 'A' }],
        servicePoints: [
          { code: 'SP-9', transformer: 'TX-9', premise: 'x', timeZone: 'UTC', account: 'ACC-404' },
        ],
      },
    });
    expect(r.errors?.[0]?.extensions?.code).toBe('UNKNOWN_TOPOLOGY_REFERENCE');
    expect(r.errors?.[0]?.extensions?.problems).toEqual([
      expect.objectContaining({
        path: 'transformers[0].feeder',
        code: 'UNKNOWN_TOPOLOGY_REFERENCE',
      }),
      expect.objectContaining({
        path: 'servicePoints[0].account',
        code: 'UNKNOWN_TOPOLOGY_REFERENCE',
      }),
    ]);
    const t = await api.gql(`{ transformer(code: "TX-9") { code } }`);
    expect(t.data.transformer).toBeNull();
  });

  test('invalid values are BAD_USER_INPUT listing each problem', async () => {
    const r = await api.gql(UPSERT, {
      input: {
        transformers: [{ code: 'TX-8', feeder: 'FDR-1', ratedKva: -5, phase: 'A' }],
        servicePoints: [
          { code: 'SP-8', transformer: 'TX-404', premise: 'x', timeZone: 'Mars/Olympus' },
        ],
        meters: [
          {
            serial: 'M-8',
            servicePoint: 'SP-1',
            installedAt: '2025-01-01T00:00:00Z',
            removedAt: '2024-01-01T00:00:00Z',
            commPath: 'PLC',
            intervalSeconds: 700,
            unit: 'MWh',
          },
        ],
      },
    });
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const problems = r.errors?.[0]?.extensions?.problems as Array<{ path: string; code: string }>;
    expect(problems.map((p) => [p.path, p.code])).toEqual([
      ['transformers[0].ratedKva', 'BAD_VALUE'],
      ['servicePoints[0].transformer', 'UNKNOWN_TOPOLOGY_REFERENCE'],
      ['servicePoints[0].timeZone', 'BAD_TIME_ZONE'],
      ['meters[0].unit', 'BAD_UNIT'],
      ['meters[0].intervalSeconds', 'BAD_USER_INPUT'],
      ['meters[0].removedAt', 'INVALID_RANGE'],
    ]);
    expect(r.errors?.[0]?.message).toMatch(/6 problems and nothing was written/);
    const t = await api.gql(`{ transformer(code: "TX-8") { code } }`);
    expect(t.data.transformer).toBeNull();
  });
});
