/**
 * Every `graphql` block of the README's "Example operations" runs against the demo data, as
 * `npm start` loads it, and answers without errors; the DST claim the README makes is checked.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config';
import { silentLogger } from '../src/logger';
import { PostgresQueue } from '../src/ingest/queue';
import { loadDemoIfEmpty } from '../src/cli/demo';
import { createGateway, type Gateway } from '../src/server';
import { type Runtime } from '../src/runtime';
import { openTestDatabase, type TestDatabase } from './helpers/db';
import { ADMIN } from './auth/tokens';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function exampleBlocks(): string[] {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const start = readme.indexOf('## Example operations');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end);
  return [...section.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

let db: TestDatabase;
let gw: Gateway;

beforeAll(async () => {
  db = await openTestDatabase();
  const config = { ...loadConfig({}), clockToleranceSeconds: 3600 };
  const rt: Runtime = {
    config,
    logger: silentLogger,
    db,
    queue: new PostgresQueue(db.pool),
    close: async () => {},
  };
  const report = await loadDemoIfEmpty(rt);
  expect(report).not.toBeNull();
  gw = await createGateway({ config, logger: silentLogger, db });
  await gw.apollo.start();
}, 180_000);
afterAll(async () => {
  await gw?.apollo.stop();
  await db?.close();
});

async function run(query: string): Promise<{ data?: Json; errors?: Json[] }> {
  const res = await gw.apollo.executeOperation(
    { query },
    { contextValue: gw.context(undefined, ADMIN) },
  );
  if (res.body.kind !== 'single') throw new Error('expected a single result');
  return JSON.parse(JSON.stringify(res.body.singleResult));
}

test('the README has example operations', () => {
  expect(exampleBlocks().length).toBeGreaterThanOrEqual(6);
});

test.each(exampleBlocks().map((q, i) => [i + 1, q]))(
  'README example %i runs against the demo data without errors',
  async (_n, query) => {
    const r = await run(query as string);
    expect(r.errors).toBeUndefined();
    expect(r.data).toBeTruthy();
    // every top-level field answered something (not null, not an empty list)
    for (const v of Object.values(r.data)) {
      expect(v).not.toBeNull();
      if (Array.isArray(v)) expect(v.length).toBeGreaterThan(0);
    }
  },
);

test('the README usage example shows the 92-interval spring-forward day', async () => {
  const usage = exampleBlocks().find((q) => q.includes('resolution: DAY'))!;
  const r = await run(usage);
  const buckets: Json[] = r.data.meter.usage.buckets;
  const springForward = buckets.find((b) => b.localStart.startsWith('2026-03-08'));
  expect(springForward.expected).toBe(92);
  const others = buckets.filter((b) => !b.localStart.startsWith('2026-03-08'));
  for (const b of others) expect(b.expected).toBe(96);
});

test('the README series example returns one UTC day of 96 intervals', async () => {
  const q = exampleBlocks().find((b) => b.includes('series(from: "2026-03-02'))!;
  const r = await run(q);
  const s = r.data.meter.series;
  expect(s.values).toHaveLength(96);
  expect(s.count + s.missing).toBe(96);
});
