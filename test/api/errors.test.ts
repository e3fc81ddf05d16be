import { type ConnectionPool } from '@databases/pg';
import { createContext } from '../../src/context';
import { ADMIN } from '../auth/tokens';
import { openApi, type Api } from './harness';

let api: Api;
beforeAll(async () => {
  api = await openApi();
});
afterAll(() => api.close());

/** A pool whose every query fails the way a driver would, with details clients must not see. */
function brokenPool(): ConnectionPool {
  const fail = async () => {
    throw Object.assign(new Error('secret-host:5432 connection refused'), { code: 'ECONNREFUSED' });
  };
  return { query: fail, task: fail, tx: fail } as unknown as ConnectionPool;
}

test('unexpected errors are masked for the client and logged with the request id', async () => {
  const ctx = createContext({ ...api.gw.deps, pool: brokenPool() }, 'req-abc-123', ADMIN);
  const r = await api.gql(`{ meter(serial: "M-1") { serial } }`, undefined, ctx);
  expect(r.data).toEqual({ meter: null });
  expect(r.errors).toEqual([
    {
      message: 'Internal server error',
      locations: [{ line: 1, column: 3 }],
      path: ['meter'],
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    },
  ]);
  expect(JSON.stringify(r)).not.toMatch(/secret/);
  const logged = api.logs.find((l) => l.msg === 'unexpected error in a GraphQL operation');
  expect(logged).toMatchObject({
    level: 50,
    requestId: 'req-abc-123',
    path: ['meter'],
    err: { message: 'secret-host:5432 connection refused' },
  });
});

test('MeterdataErrors keep their code and message and are not logged as unexpected', async () => {
  const before = api.logs.length;
  const r = await api.gql(`{ meters(first: 5000) { totalCount } }`);
  expect(r.errors).toEqual([
    expect.objectContaining({
      message: expect.stringMatching(/first must be between 0 and 1000/),
      extensions: { code: 'BAD_USER_INPUT' },
    }),
  ]);
  expect(api.logs.slice(before).filter((l) => l.level >= 50)).toEqual([]);
});

test('request errors keep the codes Apollo gives them', async () => {
  const parse = await api.gql(`{ meter(serial: "M-1") { serial `);
  expect(parse.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
  const validation = await api.gql(`{ meter(serial: "M-1") { nope } }`);
  expect(validation.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  const variables = await api.gql(`query($at: DateTime!) { instant(at: $at) { reporting } }`, {
    at: 'yesterday',
  });
  expect(variables.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
});
