/**
 * RELIABILITY.md 22, 23 and 26, over HTTP against startServer: authentication, a customer's
 * view (another account's meter answers exactly like a missing one; every node of a nested
 * path is checked), and the role × operation matrix.
 */
import { getMetadataStorage } from 'type-graphql';
import { Allow, ROLES, type Role } from '../../src/auth';
import { buildMeterdataSchema } from '../../src/schema';
import { readings } from '../api/harness';
import { ingestItems } from '../../src/ingest/readings';
import { openAuthServer, type AuthServer, type Json } from './server';
import { bearer, tokenFor } from './tokens';

let s: AuthServer;
const as: Partial<Record<Role, Record<string, string>>> = {};
/** the customer of ACC-2 (meter M-3 on TX-2) and of ACC-1 (M-1, M-2 on TX-1) */
let acc2: Record<string, string>;
let acc1: Record<string, string>;

beforeAll(async () => {
  s = await openAuthServer();
  await ingestItems(
    s.db.pool,
    [
      ...readings('M-1', '2025-03-01T00:00:00Z', 96, () => 0.5),
      ...readings('M-3', '2025-03-01T00:00:00Z', 24, () => 2, { intervalSeconds: 3600 }),
    ],
    { source: 'test', format: 'items' },
  );
  for (const r of ROLES) as[r] = await bearer(r, r === 'customer' ? { accounts: ['ACC-1'] } : {});
  acc1 = as.customer!;
  acc2 = await bearer('customer', { accounts: ['ACC-2'], subject: 'acc2' });
});
afterAll(async () => s.close());

const codes = (r: { body: Json }): string[] =>
  (r.body.errors ?? []).map((e: Json) => e.extensions?.code as string);

describe('authentication', () => {
  const q = '{ viewer { subject roles accounts expiresAt } }';

  test('no credentials: 401 with WWW-Authenticate, a GraphQL-shaped error and no data', async () => {
    const r = await s.gql(q, {});
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(r.body).toEqual({
      errors: [
        {
          message: expect.stringMatching(/^credentials required: send Authorization: Bearer/),
          extensions: { code: 'UNAUTHENTICATED' },
        },
      ],
    });
  });

  test.each([
    [
      'an expired token',
      async () => `Bearer ${await tokenFor('admin', { ttlSeconds: -10 })}`,
      /the token expired at 20\d\d-/,
    ],
    [
      'another secret',
      async () => `Bearer ${await tokenFor('admin', { secret: 'x'.repeat(40) })}`,
      /signature is not valid/,
    ],
    [
      'alg none',
      async () => {
        const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
        return `Bearer ${b64({ alg: 'none' })}.${b64({ sub: 'x', roles: ['admin'], exp: 4e9 })}.`;
      },
      /not accepted here/,
    ],
    [
      'no exp claim',
      async () => {
        const { SignJWT } = await import('jose');
        const t = await new SignJWT({ roles: ['admin'] })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('x')
          .sign(new TextEncoder().encode('meterdata-test-secret-0123456789abcdef'));
        return `Bearer ${t}`;
      },
      /exp claim is missing/,
    ],
    ['garbage', async () => 'Bearer not-a-token', /neither a JWT nor an API key/],
    [
      'an unknown scheme',
      async () => 'Basic YWRtaW46YWRtaW4=',
      /must be "Bearer <token>" or "ApiKey <key>"/,
    ],
    ['an unknown API key', async () => `ApiKey mdk_${'A'.repeat(43)}`, /API key is not known/],
  ])('%s: 401 UNAUTHENTICATED saying why', async (_name, header, why) => {
    const r = await s.gql(q, { authorization: await header() });
    expect(r.status).toBe(401);
    expect(codes(r)).toEqual(['UNAUTHENTICATED']);
    expect(r.body.errors[0].message).toMatch(why);
  });

  test('the token proves subject, roles, accounts and expiry', async () => {
    const r = await s.gql(q, acc2);
    expect(r.body.data.viewer).toMatchObject({
      subject: 'jwt:acc2',
      roles: ['CUSTOMER'],
      accounts: ['ACC-2'],
    });
    expect(Date.parse(r.body.data.viewer.expiresAt)).toBeGreaterThan(Date.now());
  });

  test('a browser opening the endpoint gets the landing page without credentials', async () => {
    const res = await fetch(s.server.url, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    // an operation in the URL is not a landing page
    const op = await fetch(`${s.server.url}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'text/html' },
    });
    expect(op.status).toBe(401);
  });
});

describe('22. another account’s meter answers exactly like a missing one', () => {
  test('by serial and by id, bare and with nested fields, with the same queries', async () => {
    const admin = await s.gql(
      '{ a: meter(serial: "M-1") { id } b: meter(serial: "M-3") { id } }',
      as.admin!,
    );
    const [m1, m3] = [admin.body.data.a.id, admin.body.data.b.id];
    const shapes = [
      (ref: string) => `{ meter(${ref}) { serial } }`,
      (ref: string) => `{ meter(${ref}) { serial account { code }
          series(from: "2025-03-01T00:00:00Z", to: "2025-03-02T00:00:00Z") { total }
          transformer { code meters { serial } } } }`,
    ];
    for (const shape of shapes) {
      for (const [other, missing] of [
        ['serial: "M-1"', 'serial: "NO-SUCH-METER"'],
        [`id: "${m1}"`, `id: "${Number(m3) + 1000}"`],
      ]) {
        const before = s.queries();
        const a = await s.gql(shape(other!), acc2);
        const mid = s.queries();
        const b = await s.gql(shape(missing!), acc2);
        expect(a.status).toBe(b.status);
        expect(a.body).toEqual(b.body);
        expect(a.body).toEqual({ data: { meter: null } });
        // the same look-ups, in the same order: no timing difference by query count
        expect(mid - before).toBe(s.queries() - mid);
      }
    }
    // and the customer's own meter is there
    const own = await s.gql('{ meter(serial: "M-3") { serial } }', acc2);
    expect(own.body).toEqual({ data: { meter: { serial: 'M-3' } } });
  });

  test('topology look-ups by code, and aggregates on groups outside the scope, too', async () => {
    for (const [a, b] of [
      ['{ servicePoint(code: "SP-1") { code } }', '{ servicePoint(code: "SP-9") { code } }'],
      ['{ transformer(code: "TX-1") { code } }', '{ transformer(code: "TX-9") { code } }'],
    ]) {
      expect((await s.gql(a!, acc2)).body).toEqual((await s.gql(b!, acc2)).body);
    }
    const instant = (code: string) =>
      s.gql(
        `{ instant(at: "2025-03-01T10:00:00Z", transformerCode: "${code}", intervalSeconds: 3600) { total } }`,
        acc2,
      );
    const [other, none] = [await instant('TX-1'), await instant('TX-9')];
    expect(other.body.errors[0].message).toBe(none.body.errors[0].message.replace('TX-9', 'TX-1'));
    expect(codes(other)).toEqual(['NOT_FOUND']);
  });
});

describe('23. nested paths are checked at every node', () => {
  test('a customer walks from their meter up and down only their part of the tree', async () => {
    const r = await s.gql(
      `{ meter(serial: "M-3") {
          servicePoint { code account { code } meters { serial } }
          transformer { code meters { serial } servicePoints { code }
            feeder { code transformers { code meters { serial } }
              substation { code feeders { code transformers { code } } } } } } }`,
      acc2,
    );
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.meter).toEqual({
      servicePoint: { code: 'SP-3', account: { code: 'ACC-2' }, meters: [{ serial: 'M-3' }] },
      transformer: {
        code: 'TX-2',
        meters: [{ serial: 'M-3' }],
        servicePoints: [{ code: 'SP-3' }],
        feeder: {
          code: 'FDR-1',
          // TX-1 (ACC-1's) is on the same feeder: not seen
          transformers: [{ code: 'TX-2', meters: [{ serial: 'M-3' }] }],
          substation: {
            code: 'SUB-1',
            feeders: [{ code: 'FDR-1', transformers: [{ code: 'TX-2' }] }],
          },
        },
      },
    });
  });

  test('lists from the top hold the customer’s meters only', async () => {
    const r = await s.gql(
      `{ meters(first: 10) { totalCount nodes { serial } }
         substations { feeders { transformers { code servicePoints { code } meters { serial } } } } }`,
      acc1,
    );
    expect(r.body.data).toEqual({
      meters: { totalCount: 2, nodes: [{ serial: 'M-1' }, { serial: 'M-2' }] },
      substations: [
        {
          feeders: [
            {
              transformers: [
                {
                  code: 'TX-1',
                  servicePoints: [{ code: 'SP-1' }, { code: 'SP-2' }],
                  meters: [{ serial: 'M-1' }, { serial: 'M-2' }],
                },
              ],
            },
          ],
        },
      ],
    });
    // a filter naming another transformer finds nothing rather than its meters
    const other = await s.gql(
      '{ meters(filter: { transformerCode: "TX-2" }) { totalCount } }',
      acc1,
    );
    expect(other.body.data.meters.totalCount).toBe(0);
  });

  test('a planner walks the topology, but never into a meter’s readings or a customer', async () => {
    const walk = await s.gql(
      '{ transformer(code: "TX-1") { code meters { serial } servicePoints { code premise } } }',
      as.planner!,
    );
    expect(walk.body.errors).toBeUndefined();
    expect(walk.body.data.transformer.meters).toEqual([{ serial: 'M-1' }, { serial: 'M-2' }]);
    const readingsOf = await s.gql(
      `{ transformer(code: "TX-1") { code meters { serial
           series(from: "2025-03-01T00:00:00Z", to: "2025-03-02T00:00:00Z") { total } } } }`,
      as.planner!,
    );
    // series is non-null: the refusal nulls the path up to the nullable transformer
    expect(readingsOf.body.data).toEqual({ transformer: null });
    // (graphql-js reports the first refusal of the list that went null)
    expect(codes(readingsOf)).toEqual(['FORBIDDEN']);
    expect(readingsOf.body.errors[0].path).toEqual(['transformer', 'meters', 0, 'series']);
    expect(readingsOf.body.errors[0].message).toMatch(
      /role planner may not use Meter\.series \(allowed: customer, billing, operator, admin\)/,
    );
    const customers = await s.gql(
      '{ transformer(code: "TX-1") { servicePoints { code account { code name } } } }',
      as.planner!,
    );
    expect(customers.body.data.transformer.servicePoints).toEqual([
      { code: 'SP-1', account: null },
      { code: 'SP-2', account: null },
    ]);
    expect(codes(customers)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
  });

  test('an identity with customer and planner roles reads only its own meters’ values', async () => {
    const both = {
      authorization: `Bearer ${await tokenFor(null, { claims: { roles: ['customer', 'planner'], accounts: ['ACC-2'] } })}`,
    };
    const series = 'series(from: "2025-03-01T00:00:00Z", to: "2025-03-02T00:00:00Z") { total }';
    const r = await s.gql(
      `{ own: meter(serial: "M-3") { ${series} } other: meter(serial: "M-1") { serial ${series} } }`,
      both,
    );
    expect(r.body.data.own.series.total).toBe(48);
    expect(r.body.data.other).toBeNull();
    expect(r.body.errors).toEqual([
      expect.objectContaining({
        path: ['other', 'series'],
        message: expect.stringMatching(/may not read the values of meter M-1/),
        extensions: { code: 'FORBIDDEN' },
      }),
    ]);
  });
});

describe('26. the role × operation matrix', () => {
  const day = 'from: "2025-03-01T00:00:00Z", to: "2025-03-02T00:00:00Z"';
  const operations: Record<string, { query: string; allowed: readonly Role[] }> = {
    viewer: { query: '{ viewer { subject } }', allowed: Allow.viewer },
    meter: { query: '{ meter(serial: "M-1") { serial } }', allowed: Allow.topology },
    meters: { query: '{ meters { totalCount } }', allowed: Allow.topology },
    substations: { query: '{ substations { code } }', allowed: Allow.topology },
    'Meter.series': {
      query: `{ meter(serial: "M-1") { series(${day}) { total } } }`,
      allowed: Allow.meterReadings,
    },
    'Meter.usage': {
      query: `{ meter(serial: "M-1") { usage(${day}, resolution: DAY) { total } } }`,
      allowed: Allow.meterReadings,
    },
    'Meter.intervals': {
      query: `{ meter(serial: "M-1") { intervals(${day}) { value } } }`,
      allowed: Allow.meterReadings,
    },
    'Meter.history': {
      query: `{ meter(serial: "M-1") { history(${day}) { version } } }`,
      allowed: Allow.meterReadings,
    },
    'Meter.account': {
      query: '{ meter(serial: "M-1") { account { code } } }',
      allowed: Allow.accounts,
    },
    'Transformer.series': {
      query: `{ transformer(code: "TX-1") { series(${day}) { total } } }`,
      allowed: ['customer', 'billing', 'planner', 'operator', 'admin'],
    },
    instant: {
      query: '{ instant(at: "2025-03-01T10:00:00Z", intervalSeconds: 3600) { total } }',
      allowed: Allow.aggregates,
    },
    ingestFiles: { query: '{ ingestFiles(first: 1) { nodes { id } } }', allowed: Allow.files },
    csvProfiles: { query: '{ csvProfiles { name } }', allowed: Allow.files },
    ingestReadings: {
      query: 'mutation { ingestReadings(input: { readings: [] }) { accepted } }',
      allowed: ['headend', 'operator', 'admin'],
    },
    upsertTopology: {
      query: 'mutation { upsertTopology(input: {}) { meters } }',
      allowed: ['operator', 'admin'],
    },
    saveCsvProfile: {
      query: 'mutation { saveCsvProfile(name: "p", profile: {}) { name } }',
      allowed: ['operator', 'admin'],
    },
  };

  test('every role gets exactly the operations the table allows (FORBIDDEN otherwise)', async () => {
    const expected: Record<string, Record<string, string>> = {};
    const actual: Record<string, Record<string, string>> = {};
    for (const [name, op] of Object.entries(operations)) {
      expected[name] = {};
      actual[name] = {};
      for (const role of ROLES) {
        expected[name]![role] = op.allowed.includes(role) ? 'allowed' : 'FORBIDDEN';
        const r = await s.gql(op.query, as[role]!);
        actual[name]![role] = codes(r).some((c) => c === 'FORBIDDEN' || c === 'UNAUTHENTICATED')
          ? codes(r).join(',')
          : 'allowed';
      }
    }
    expect(actual).toEqual(expected);
  });

  test('POST /ingest/files: head-ends, operators and admins only', async () => {
    const statuses: Record<string, number> = {};
    for (const role of ROLES) {
      const res = await fetch(s.server.url.replace(/graphql$/, 'ingest/files?format=csv'), {
        method: 'POST',
        headers: { 'content-type': 'text/csv', ...as[role]! },
        body: `meter_serial,channel,interval_start,interval_seconds,value,unit\nM-2,delivered,2025-04-0${1 + ROLES.indexOf(role)}T00:00:00Z,900,1,kWh\n`,
      });
      statuses[role] = res.status;
      if (res.status === 403) {
        expect(await res.json()).toEqual({
          code: 'FORBIDDEN',
          message: `role ${role} may not upload files (allowed: headend, operator, admin)`,
        });
      }
    }
    expect(statuses).toEqual({
      customer: 403,
      billing: 403,
      planner: 403,
      operator: 202,
      headend: 202,
      admin: 202,
    });
    const none = await fetch(s.server.url.replace(/graphql$/, 'ingest/files'), {
      method: 'POST',
      body: 'x',
    });
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  test('a billing client calling a head-end mutation is told which roles may', async () => {
    const r = await s.gql(operations.ingestReadings!.query, as.billing!);
    expect(r.body).toEqual({
      data: null,
      errors: [
        expect.objectContaining({
          message:
            'role billing may not use Mutation.ingestReadings (allowed: headend, operator, admin)',
          extensions: { code: 'FORBIDDEN', allowedRoles: ['headend', 'operator', 'admin'] },
        }),
      ],
    });
  });

  test('every operation and every edge to an object carries roles', async () => {
    await buildMeterdataSchema();
    const m = getMetadataStorage();
    const bare = [...m.queries, ...m.mutations, ...m.subscriptions]
      .filter((q) => !q.roles)
      .map((q) => `${q.target.name}.${q.methodName}`);
    expect(bare).toEqual([]);
    const edges = m.fieldResolvers
      .filter((f) => !f.roles)
      .map((f) => `${f.target.name}.${f.methodName}`);
    expect(edges).toEqual([]);
  });
});
