import { IngestWorker } from '../../src/ingest/worker';
import { silentLogger } from '../../src/logger';
import { type Runtime } from '../../src/runtime';
import { startServer, type ServerHandle } from '../../src/server';
import { filesByIds } from '../../src/storage/landing';
import { upsertTopology } from '../../src/storage/topology';
import { ErrorCode } from '../../src/errors';
import { openTestDatabase, type TestDatabase } from '../helpers/db';
import { smallTopology } from '../helpers/fixtures';
import { testQueue } from '../helpers/queue';
import { tokenFor, testConfig } from '../auth/tokens';

type Json = Record<string, unknown>;
let db: TestDatabase;
let rt: Runtime;
let server: ServerHandle;
let base: string;
/** every request runs as an admin (test/auth covers the other identities) */
let auth: Record<string, string>;

beforeAll(async () => {
  db = await openTestDatabase();
  await upsertTopology(db.pool, smallTopology());
  rt = {
    config: testConfig({ maxFileBytes: 64 * 1024 }),
    logger: silentLogger,
    db,
    queue: testQueue(db.pool),
    close: async () => {},
  };
  server = await startServer(rt, { port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${server.port}`;
  auth = { authorization: `Bearer ${await tokenFor('admin')}` };
});
afterAll(async () => {
  await server.close();
  await rt.queue.close();
  await db.close();
});

const HEADER = 'meter_serial,channel,interval_start,interval_seconds,value,unit\n';
const body = (day: string, n: number, v = '0.5') =>
  HEADER +
  Array.from(
    { length: n },
    (_, i) =>
      `M-1,delivered,${new Date(Date.parse(`${day}T00:00:00Z`) + i * 900_000).toISOString()},900,${v},kWh\n`,
  ).join('');

const upload = (content: string, query = 'format=csv') =>
  fetch(`${base}/ingest/files?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv', ...auth },
    body: content,
  });

async function gql(query: string, variables: Json = {}): Promise<Json> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as Json;
}

async function process(fileId: number): Promise<void> {
  const w = new IngestWorker(db.pool, rt.queue, silentLogger, { blockMs: 100 });
  const deadline = Date.now() + 20_000;
  await w.run(async () => {
    const [f] = await filesByIds(db.pool, [fileId]);
    return f!.status === 'done' || f!.status === 'failed' || Date.now() > deadline;
  });
}

test('a streamed upload answers 202 with the file id, and the file is queryable with its counts', async () => {
  const content = body('2025-07-01', 96).replace(',0.5,kWh\n', ',oops,kWh\n');
  const res = await upload(
    content,
    'format=csv&source=headend-a&sourceSystem=HES-1&commPath=RF_MESH&fileName=a.csv',
  );
  expect(res.status).toBe(202);
  const r = (await res.json()) as Json;
  // CSV is a line format: the landing checks its structure, the workers parse and count it
  expect(r).toMatchObject({ status: 'received', duplicate: false, items: null, parseRejected: 0 });
  await process(Number(r.fileId));
  const q = await gql(
    `query($id: ID!) { ingestFile(id: $id) { status source sourceSystem commPath format fileName accepted unchanged changed rejected
       rejections { position code } } }`,
    { id: r.fileId },
  );
  expect((q.data as Json).ingestFile).toEqual({
    status: 'DONE',
    source: 'headend-a',
    sourceSystem: 'HES-1',
    commPath: 'RF_MESH',
    format: 'CSV',
    fileName: 'a.csv',
    accepted: 95,
    unchanged: 0,
    changed: 0,
    rejected: 1,
    rejections: [{ position: 2, code: ErrorCode.BAD_VALUE }],
  });
  const list = await gql(
    `{ ingestFiles(filter: { status: [DONE] }, first: 10) { nodes { id } pageInfo { hasNextPage } } }`,
  );
  expect(((list.data as Json).ingestFiles as Json).nodes).toEqual([{ id: r.fileId }]);

  // provenance per reading: the file's source system and path, and the collection lag
  const iv = await gql(
    `{ meter(serial: "M-1") { intervals(from: "2025-07-01T00:00:00Z", to: "2025-07-01T01:00:00Z") {
        end missing version batchId source sourceSystem commPath receivedAt lagSeconds } } }`,
  );
  const items = ((iv.data as Json).meter as Json).intervals as Json[];
  expect(items).toHaveLength(4);
  expect(items[0]).toMatchObject({ missing: true, batchId: null, lagSeconds: null });
  for (const it of items.slice(1)) {
    expect(it).toMatchObject({
      missing: false,
      version: 1,
      source: 'headend-a',
      sourceSystem: 'HES-1',
      commPath: 'RF_MESH',
    });
    const lag = (Date.parse(it.receivedAt as string) - Date.parse(it.end as string)) / 1000;
    expect(it.lagSeconds).toBe(Math.round(lag));
    expect(it.lagSeconds as number).toBeGreaterThan(0);
  }

  const again = await upload(content);
  expect(again.status).toBe(200);
  expect(await again.json()).toMatchObject({ duplicate: true, fileId: r.fileId });
});

test('structural errors answer 422 with the code and keep nothing to process', async () => {
  const res = await upload('meter_serial,channel,value\nM-1,delivered,1\n');
  expect(res.status).toBe(422);
  expect(await res.json()).toMatchObject({ status: 'failed', code: ErrorCode.MISSING_COLUMN });
});

test('bad requests: unknown format, unknown profile, too large', async () => {
  expect((await upload('x', 'format=xlsx')).status).toBe(400);
  const p = await upload(body('2025-07-02', 1), 'format=csv&profile=nope');
  expect(p.status).toBe(400);
  expect(await p.json()).toMatchObject({ code: ErrorCode.BAD_USER_INPUT });
  const big = await upload(body('2025-07-03', 96).repeat(16));
  expect(big.status).toBe(413);
  expect(await big.json()).toMatchObject({ code: ErrorCode.FILE_TOO_LARGE });
});

test('a saved CSV profile is used by name for uploads; an invalid one is refused', async () => {
  const bad = await gql(
    `mutation { saveCsvProfile(name: "broken", profile: { delimiter: "?" }) { name } }`,
  );
  expect((bad.errors as Json[])[0]!.extensions).toMatchObject({ code: ErrorCode.BAD_USER_INPUT });
  const saved = await gql(
    `mutation($p: JSONObject!) { saveCsvProfile(name: "semicolon", profile: $p) { name } }`,
    {
      p: {
        delimiter: ';',
        decimalSeparator: ',',
        columns: {
          meter: 'meter',
          channel: 'chan',
          timestamp: 'ts',
          value: 'kwh',
          unit: { constant: 'kWh' },
        },
        channelMap: { IMPORT: 'delivered' },
        defaultIntervalSeconds: 900,
        timeZone: 'UTC',
      },
    },
  );
  expect(saved.errors).toBeUndefined();
  const res = await upload(
    'meter;chan;ts;kwh\nM-1;IMPORT;2025-07-04T00:00:00Z;1,25\n',
    'format=csv&profile=semicolon',
  );
  const r = (await res.json()) as Json;
  expect([res.status, r.code, r.message]).toEqual([202, undefined, undefined]);
  await process(Number(r.fileId));
  const q = await gql(`query($id: ID!) { ingestFile(id: $id) { status accepted rejected } }`, {
    id: r.fileId,
  });
  expect((q.data as Json).ingestFile).toEqual({ status: 'DONE', accepted: 1, rejected: 0 });
  const list = await gql(`{ csvProfiles { name } }`);
  expect((list.data as Json).csvProfiles).toEqual([{ name: 'semicolon' }]);
});
