import { openApi, type Api } from './harness';

let api: Api;
beforeAll(async () => {
  api = await openApi();
});
afterAll(() => api.close());

const PAGE = `query($first: Int, $after: String, $filter: MeterFilter) {
  meters(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { serial } }
    nodes { serial }
  }
}`;

describe('Query.meter', () => {
  test('by serial and by id, with its fields and edges', async () => {
    const bySerial = await api.gql(`{
      meter(serial: "M-1") {
        id serial mrid multiplier unit intervalSeconds channels installedAt removedAt status commPath timeZone
        servicePoint { code premise timeZone }
        transformer { code ratedKva phase }
        account { code name customerClass }
      }
    }`);
    expect(bySerial.errors).toBeUndefined();
    const m = bySerial.data.meter;
    expect(m).toMatchObject({
      serial: 'M-1',
      mrid: 'mrid-1',
      multiplier: 1,
      unit: 'kWh',
      intervalSeconds: 900,
      channels: ['DELIVERED', 'RECEIVED'],
      installedAt: '2020-01-01T00:00:00.000Z',
      removedAt: null,
      status: 'ACTIVE',
      commPath: 'RF_MESH',
      timeZone: 'America/New_York',
      servicePoint: { code: 'SP-1', premise: '1 Main St' },
      transformer: { code: 'TX-1', ratedKva: 50, phase: 'A' },
      account: { code: 'ACC-1', customerClass: 'RESIDENTIAL' },
    });
    expect(typeof m.id).toBe('string');
    const byId = await api.gql(`query($id: ID) { meter(id: $id) { serial } }`, { id: m.id });
    expect(byId.data.meter.serial).toBe('M-1');
  });

  test('unknown ids and serials are null', async () => {
    const r = await api.gql(`{ a: meter(id: "999999") { serial } b: meter(id: "x") { serial } }`);
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({ a: null, b: null });
  });

  test('exactly one of id and serial', async () => {
    const none = await api.gql(`{ meter { serial } }`);
    expect(none.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const both = await api.gql(`{ meter(id: "1", serial: "M-1") { serial } }`);
    expect(both.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('Query.meters', () => {
  test('pages by opaque cursor', async () => {
    const p1 = await api.gql(PAGE, { first: 2 });
    expect(p1.errors).toBeUndefined();
    expect(p1.data.meters.totalCount).toBe(3);
    expect(p1.data.meters.nodes.map((n: { serial: string }) => n.serial)).toEqual(['M-1', 'M-2']);
    expect(p1.data.meters.pageInfo.hasNextPage).toBe(true);
    expect(p1.data.meters.pageInfo.endCursor).toBe(p1.data.meters.edges[1].cursor);
    const p2 = await api.gql(PAGE, { first: 2, after: p1.data.meters.pageInfo.endCursor });
    expect(p2.data.meters.nodes.map((n: { serial: string }) => n.serial)).toEqual(['M-3']);
    expect(p2.data.meters.pageInfo.hasNextPage).toBe(false);
  });

  test.each([
    [{ transformerCode: 'TX-1' }, ['M-1', 'M-2']],
    [{ transformerCodes: ['TX-2', 'TX-404'] }, ['M-3']],
    [{ feederCode: 'FDR-1' }, ['M-1', 'M-2', 'M-3']],
    [{ feederCodes: ['FDR-404'] }, []],
    [{ substationCode: 'SUB-1', status: 'REMOVED' }, ['M-3']],
    [{ commPath: 'PLC' }, ['M-2']],
    [{ transformerCode: 'TX-1', commPath: 'CELLULAR' }, []],
  ])('filter %j', async (filter, serials) => {
    const r = await api.gql(PAGE, { filter });
    expect(r.errors).toBeUndefined();
    expect(r.data.meters.nodes.map((n: { serial: string }) => n.serial)).toEqual(serials);
    expect(r.data.meters.totalCount).toBe(serials.length);
  });

  test('first is at most 1000 and not negative; cursors must be ours', async () => {
    for (const first of [1001, -1]) {
      const r = await api.gql(PAGE, { first });
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    const bad = await api.gql(PAGE, { after: 'not-a-cursor' });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  test('nested topology costs the same number of queries for 1 meter as for 3 (no N+1)', async () => {
    const Q = `query($first: Int) {
      meters(first: $first) {
        nodes {
          serial
          servicePoint { code account { code } meters { serial } }
          transformer { code feeder { code substation { code } } }
          account { name }
        }
      }
    }`;
    const one = api.countingContext();
    const r1 = await api.gql(Q, { first: 1 }, one.ctx);
    const three = api.countingContext();
    const r3 = await api.gql(Q, { first: 3 }, three.ctx);
    expect(r1.errors).toBeUndefined();
    expect(r3.errors).toBeUndefined();
    expect(r3.data.meters.nodes[2]).toMatchObject({
      serial: 'M-3',
      servicePoint: { code: 'SP-3', account: { code: 'ACC-2' }, meters: [{ serial: 'M-3' }] },
      transformer: { code: 'TX-2', feeder: { code: 'FDR-1', substation: { code: 'SUB-1' } } },
    });
    expect(three.count()).toBe(one.count());
    // page + count, service points, meters by service point, transformers, accounts, feeders, substations
    expect(three.count()).toBe(8);
  });
});

describe('topology queries', () => {
  test('down the tree from the substations', async () => {
    const r = await api.gql(`{
      substations {
        code name
        feeders {
          code substation { code }
          transformers {
            code ratedKva phase
            servicePoints { code timeZone account { code } meters { serial } }
            meters { serial }
          }
        }
      }
    }`);
    expect(r.errors).toBeUndefined();
    expect(r.data.substations).toEqual([
      {
        code: 'SUB-1',
        name: 'North',
        feeders: [
          {
            code: 'FDR-1',
            substation: { code: 'SUB-1' },
            transformers: [
              {
                code: 'TX-1',
                ratedKva: 50,
                phase: 'A',
                servicePoints: [
                  {
                    code: 'SP-1',
                    timeZone: 'America/New_York',
                    account: { code: 'ACC-1' },
                    meters: [{ serial: 'M-1' }],
                  },
                  {
                    code: 'SP-2',
                    timeZone: 'America/New_York',
                    account: { code: 'ACC-1' },
                    meters: [{ serial: 'M-2' }],
                  },
                ],
                meters: [{ serial: 'M-1' }, { serial: 'M-2' }],
              },
              {
                code: 'TX-2',
                ratedKva: 75,
                phase: 'B',
                servicePoints: [
                  {
                    code: 'SP-3',
                    timeZone: 'Europe/Berlin',
                    account: { code: 'ACC-2' },
                    meters: [{ serial: 'M-3' }],
                  },
                ],
                meters: [{ serial: 'M-3' }],
              },
            ],
          },
        ],
      },
    ]);
  });

  test('look-ups by code; unknown codes are null', async () => {
    const r = await api.gql(`{
      substation(code: "SUB-1") { code }
      feeder(code: "FDR-1") { code substation { code } }
      transformer(code: "TX-2") { code feeder { code } servicePoints { code } }
      servicePoint(code: "SP-3") { code premise transformer { code } account { name customerClass } }
      nope: transformer(code: "TX-404") { code }
    }`);
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({
      substation: { code: 'SUB-1' },
      feeder: { code: 'FDR-1', substation: { code: 'SUB-1' } },
      transformer: { code: 'TX-2', feeder: { code: 'FDR-1' }, servicePoints: [{ code: 'SP-3' }] },
      servicePoint: {
        code: 'SP-3',
        premise: '9 Elm St',
        transformer: { code: 'TX-2' },
        account: { name: 'Two', customerClass: 'COMMERCIAL' },
      },
      nope: null,
    });
  });
});
