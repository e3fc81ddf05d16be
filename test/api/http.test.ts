import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { PostgresQueue } from '../../src/ingest/queue';
import { ingestItems } from '../../src/ingest/readings';
import { openDatabase } from '../../src/storage/db';
import { silentLogger } from '../../src/logger';
import { type Runtime } from '../../src/runtime';
import { startServer, type ServerHandle } from '../../src/server';
import { upsertTopology } from '../../src/storage/topology';
import { openTestDatabase, type TestDatabase } from '../helpers/db';
import { smallTopology } from '../helpers/fixtures';
import { readings, type Json } from './harness';
import { tokenFor, testConfig } from '../auth/tokens';

let db: TestDatabase;
let rt: Runtime;
let server: ServerHandle;
/** every request runs as an admin (test/auth covers the other identities) */
let auth: Record<string, string>;

beforeAll(async () => {
  db = await openTestDatabase();
  await upsertTopology(db.pool, smallTopology());
  await ingestItems(
    db.pool,
    readings('M-1', '2025-03-01T00:00:00Z', 31 * 96, (i) => (i % 8) / 4),
    {
      source: 'test',
      format: 'items',
    },
  );
  rt = {
    config: testConfig(),
    logger: silentLogger,
    db,
    queue: new PostgresQueue(db.pool),
    close: () => db.close(),
  };
  server = await startServer(rt, { port: 0, host: '127.0.0.1' });
  auth = { authorization: `Bearer ${await tokenFor('admin')}` };
});
afterAll(async () => {
  await server.close();
  await db.close();
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

test('the benchmark query over HTTP: a meter-month as columns', async () => {
  expect(server.url).toBe(`http://127.0.0.1:${server.port}/graphql`);
  const res = await post({
    query: `query($s: String!) {
      meter(serial: $s) {
        series(from: "2025-03-01T00:00:00Z", to: "2025-04-01T00:00:00Z") { start intervalSeconds values quality }
      }
    }`,
    variables: { s: 'M-1' },
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as Json;
  expect(body.errors).toBeUndefined();
  const s = body.data.meter.series;
  expect(s.start).toBe('2025-03-01T00:00:00.000Z');
  expect(s.intervalSeconds).toBe(900);
  expect(s.values).toHaveLength(2976);
  expect(s.values.slice(0, 8)).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75]);
  expect(s.quality.every((q: number) => q === 0)).toBe(true);
});

test('/healthz answers ok when the database does', async () => {
  const res = await fetch(`http://127.0.0.1:${server.port}/healthz`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ status: 'ok' });
});

test('batched requests are refused; CSRF prevention is on', async () => {
  const batched = await post([{ query: '{ __typename }' }, { query: '{ __typename }' }]);
  expect(batched.status).toBe(400);
  const simpleGet = await fetch(`${server.url}?query=${encodeURIComponent('{ __typename }')}`, {
    headers: auth,
  });
  expect(simpleGet.status).toBe(400);
  expect(await simpleGet.text()).toMatch(/CSRF/);
  const preflighted = await fetch(`${server.url}?query=${encodeURIComponent('{ __typename }')}`, {
    headers: { 'apollo-require-preflight': 'true', ...auth },
  });
  expect(preflighted.status).toBe(200);
});

test('bodies over 10 MB and malformed JSON get GraphQL-shaped errors', async () => {
  const big = await post(
    JSON.stringify({ query: '{ __typename }', pad: 'x'.repeat(11 * 1024 * 1024) }),
  );
  expect(big.status).toBe(413);
  expect(((await big.json()) as Json).errors[0].extensions.code).toBe('BAD_REQUEST');
  const broken = await post('{"query": ');
  expect(broken.status).toBe(400);
  expect(((await broken.json()) as Json).errors[0].extensions.code).toBe('BAD_REQUEST');
});

test('introspection is on outside production', async () => {
  const res = await post({ query: '{ __schema { queryType { name } } }' });
  expect(((await res.json()) as Json).data.__schema.queryType.name).toBe('Query');
});

test('in production introspection is off, and /healthz is 503 when the database fails', async () => {
  // A real driver pointed at a port where no database listens.
  const unreachable = await openDatabase({
    databaseUrl: 'postgres://postgres@127.0.0.1:9/none',
    poolSize: 1,
  });
  const prod: Runtime = {
    config: { ...rt.config, production: true },
    logger: silentLogger,
    db: unreachable,
    queue: new PostgresQueue(unreachable.pool),
    close: () => unreachable.close(),
  };
  const s = await startServer(prod, { port: 0, host: '127.0.0.1' });
  try {
    const health = await fetch(`http://127.0.0.1:${s.port}/healthz`);
    expect(health.status).toBe(503);
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
    });
    const body = (await res.json()) as Json;
    expect(body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(body.errors[0].message).toMatch(/[Ii]ntrospection/);
  } finally {
    await s.close();
  }
});

describe('subscriptions over graphql-ws', () => {
  let client: Client;
  afterEach(async () => client?.dispose());

  test('readingsIngested delivers the result of each ingestReadings batch', async () => {
    client = createClient({
      url: server.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: auth,
    });
    const events: Json[] = [];
    let notify: (() => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      client.subscribe(
        {
          query:
            'subscription { readingsIngested { batchId source accepted rejected finishedAt } }',
        },
        {
          next: (msg) => {
            if (msg.errors) reject(new Error(JSON.stringify(msg.errors)));
            events.push(msg.data?.readingsIngested);
            notify?.();
          },
          error: (err) => reject(err instanceof Error ? err : new Error(JSON.stringify(err))),
          complete: () => {},
        },
      );
    });
    const nextEvent = () =>
      Promise.race([failed, new Promise<void>((resolve) => (notify = resolve))]);
    const ingest = async (source: string, items: unknown[]) => {
      const res = await post({
        query: `mutation($input: IngestReadingsInput!) { ingestReadings(input: $input) { batchId accepted } }`,
        variables: { input: { source, readings: items } },
      });
      return ((await res.json()) as Json).data.ingestReadings;
    };
    // The subscription becomes active asynchronously: probe with empty batches until one arrives.
    for (let i = 0; events.length === 0; i++) {
      if (i > 100) throw new Error('the subscription never delivered an event');
      const arrived = nextEvent();
      await ingest('probe', []);
      await Promise.race([arrived, new Promise((r) => setTimeout(r, 50))]);
    }
    const arrived = nextEvent();
    const items = readings('M-2', '2025-05-01T00:00:00Z', 4, () => 1).map((r) => ({
      ...r,
      channel: 'DELIVERED',
    }));
    const result = await ingest('head-end-7', items);
    await arrived;
    while (events[events.length - 1]?.source !== 'head-end-7') await nextEvent();
    expect(events[events.length - 1]).toMatchObject({
      batchId: result.batchId,
      source: 'head-end-7',
      accepted: 4,
      rejected: 0,
    });
    expect(Date.parse(events[events.length - 1].finishedAt)).not.toBeNaN();
  });
});

test('a port in use is a clear error, and nothing is left running', async () => {
  await expect(startServer(rt, { port: server.port, host: '127.0.0.1' })).rejects.toThrow(
    new RegExp(`cannot listen on 127.0.0.1:${server.port}.*EADDRINUSE`),
  );
});
