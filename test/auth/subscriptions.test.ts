/**
 * RELIABILITY.md 24 and 27 over graphql-ws (raw frames, so close codes are visible): the token
 * in connection_init, authorization at subscribe time, the cap per connection, and the end of
 * a subscription when access ends (token expiry, key revocation).
 */
import WebSocket from 'ws';
import { createApiKey } from '../../src/auth';
import { revokeApiKey } from '../../src/storage/access';
import { openAuthServer, type AuthServer, type Json } from './server';
import { tokenFor } from './tokens';

let s: AuthServer;

beforeAll(async () => {
  s = await openAuthServer({ config: { maxSubscriptionsPerConnection: 2, wsRecheckSeconds: 1 } });
});
afterAll(async () => s.close());

interface Conn {
  ws: WebSocket;
  /** the next message of a type (or for an id) */
  next(pred?: (m: Json) => boolean): Promise<Json>;
  closed: Promise<{ code: number; reason: string }>;
  send(m: unknown): void;
}

function connect(init?: Record<string, unknown>): Promise<Conn> {
  const ws = new WebSocket(s.server.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const inbox: Json[] = [];
  const waiters: Array<{ pred: (m: Json) => boolean; resolve: (m: Json) => void }> = [];
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    const i = waiters.findIndex((w) => w.pred(m));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
    else inbox.push(m);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  const conn: Conn = {
    ws,
    closed,
    send: (m) => ws.send(JSON.stringify(m)),
    next: (pred = () => true) => {
      const i = inbox.findIndex(pred);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
      return new Promise((resolve, reject) => {
        waiters.push({ pred, resolve });
        void closed.then((c) => reject(new Error(`closed ${c.code} ${c.reason}`)));
      });
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => {
      conn.send({ type: 'connection_init', ...(init ? { payload: init } : {}) });
      resolve(conn);
    });
  });
}

async function acknowledged(init: Record<string, unknown>): Promise<Conn> {
  const c = await connect(init);
  expect((await c.next()).type).toBe('connection_ack');
  return c;
}

const SUB = 'subscription { readingsIngested { batchId source accepted } }';
const subscribe = (c: Conn, id: string, query = SUB) =>
  c.send({ id, type: 'subscribe', payload: { query } });

/** Ingests an empty batch over HTTP until `c` sees the event on subscription `id`. */
async function eventArrives(c: Conn, id: string, source: string): Promise<Json> {
  const admin = { authorization: `Bearer ${await tokenFor('admin')}` };
  const got = c.next((m) => m.id === id && m.type === 'next');
  // the subscription becomes active asynchronously: send until one arrives
  for (let i = 0; i < 100; i++) {
    await s.gql(
      'mutation($i: IngestReadingsInput!) { ingestReadings(input: $i) { accepted } }',
      admin,
      {
        i: { source, readings: [] },
      },
    );
    const m = await Promise.race([got, new Promise((r) => setTimeout(() => r(null), 50))]);
    if (m) return m;
  }
  throw new Error('no event arrived');
}

describe('24. the token travels in connection_init', () => {
  test('no credentials: closed with 4401', async () => {
    const c = await connect();
    expect(await c.closed).toEqual({
      code: 4401,
      reason: expect.stringMatching(/^Unauthorized: send \{ authorization/),
    });
  });

  test('an expired token or a bad signature: closed with 4403', async () => {
    const expired = await connect({
      authorization: `Bearer ${await tokenFor('headend', { ttlSeconds: -5 })}`,
    });
    expect(await expired.closed).toEqual({
      code: 4403,
      reason: expect.stringMatching(/^Forbidden: the token expired at/),
    });
    const forged = await connect({
      authorization: `Bearer ${await tokenFor('headend', { secret: 'y'.repeat(40) })}`,
    });
    expect((await forged.closed).code).toBe(4403);
  });

  test('authorization happens at subscribe time: a planner’s subscribe is refused, a head-end’s runs', async () => {
    const p = await acknowledged({ authorization: `Bearer ${await tokenFor('planner')}` });
    subscribe(p, 'p1');
    const refused = await p.next((m) => m.id === 'p1');
    expect(refused).toMatchObject({
      type: 'next',
      payload: {
        errors: [
          {
            message:
              'role planner may not use Subscription.readingsIngested (allowed: headend, operator, admin)',
            extensions: { code: 'FORBIDDEN' },
          },
        ],
      },
    });
    expect(await p.next((m) => m.id === 'p1')).toEqual({ id: 'p1', type: 'complete' });
    p.ws.close();

    const h = await acknowledged({ authorization: `Bearer ${await tokenFor('headend')}` });
    subscribe(h, 'h1');
    const event = await eventArrives(h, 'h1', 'he-1');
    expect(event.payload.data.readingsIngested).toMatchObject({ source: 'he-1', accepted: 0 });
    h.ws.close();
  });

  test('subscribe documents meet the HTTP limits (tokens)', async () => {
    const h = await acknowledged({
      apiKey: (await createApiKey(s.db.pool, { role: 'headend' })).key,
    });
    subscribe(h, 'x', `subscription { readingsIngested { ${'batchId '.repeat(4000)} } }`);
    const m = await h.next((x) => x.id === 'x');
    expect(m).toMatchObject({
      type: 'error',
      payload: [{ extensions: { code: 'GRAPHQL_PARSE_FAILED' } }],
    });
    h.ws.close();
  });

  test('a subscription ends when the token expires: the socket closes at exp', async () => {
    const started = Date.now();
    const h = await acknowledged({
      authorization: `Bearer ${await tokenFor('headend', { ttlSeconds: 3 })}`,
    });
    subscribe(h, 'e1');
    await eventArrives(h, 'e1', 'before-exp');
    const closed = await h.closed;
    expect(closed).toEqual({ code: 4403, reason: 'Forbidden: the token expired' });
    // exp has whole seconds: closed within (2, 3.5] s of the start
    expect(Date.now() - started).toBeGreaterThan(1900);
    expect(Date.now() - started).toBeLessThan(4500);
  });

  test('and when its API key is revoked', async () => {
    const { key, record } = await createApiKey(s.db.pool, { role: 'operator', name: 'ws' });
    const c = await acknowledged({ apiKey: key });
    subscribe(c, 'k1');
    await eventArrives(c, 'k1', 'before-revoke');
    await revokeApiKey(s.db.pool, record.id);
    expect(await c.closed).toEqual({ code: 4403, reason: 'Forbidden: the API key was revoked' });
    // and it cannot come back
    const again = await connect({ apiKey: key });
    expect(await again.closed).toEqual({
      code: 4403,
      reason: expect.stringMatching(/was revoked at/),
    });
  });
});

test('27. a connection holds at most MD_MAX_SUBSCRIPTIONS subscriptions', async () => {
  const c = await acknowledged({ authorization: `Bearer ${await tokenFor('operator')}` });
  subscribe(c, 's1');
  subscribe(c, 's2');
  subscribe(c, 's3');
  const third = await c.next((m) => m.id === 's3');
  expect(third).toEqual({
    id: 's3',
    type: 'error',
    payload: [
      {
        message: expect.stringMatching(
          /this connection holds 2 subscriptions, the most it may \(MD_MAX_SUBSCRIPTIONS\)/,
        ),
        extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', maxSubscriptions: 2 },
      },
    ],
  });
  // the first two still deliver; completing one makes room
  await eventArrives(c, 's2', 'cap');
  c.send({ id: 's1', type: 'complete' });
  subscribe(c, 's4');
  await eventArrives(c, 's4', 'room');
  c.ws.close();
});
