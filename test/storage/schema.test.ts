/**
 * The committed schema dump (test/schema.sql) must match what the migrations produce, on the
 * embedded database and on PostgreSQL alike. After adding a migration, regenerate it with
 *   UPDATE_SCHEMA=1 npm run jest -- test/storage/schema.test.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { dumpSchema } from '../../src/storage/schema-dump';
import { migrate } from '../../src/storage/migrate';
import { openTestDatabase, type TestDatabase } from '../helpers/db';

const file = path.join(__dirname, '..', 'schema.sql');
let db: TestDatabase;

beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => db.close());

test('migrations produce the committed schema', async () => {
  const dump = await dumpSchema(db.pool);
  if (process.env.UPDATE_SCHEMA) fs.writeFileSync(file, dump);
  expect(dump).toBe(fs.readFileSync(file, 'utf8'));
});

test('re-running migrations is a no-op', async () => {
  const before = await dumpSchema(db.pool);
  const again = await migrate(db.pool);
  expect(again.applied).toEqual([]);
  expect(again.alreadyApplied).toBeGreaterThanOrEqual(2);
  expect(await dumpSchema(db.pool)).toBe(before);
});

test('a changed migration file is refused', async () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'md-mig-'));
  for (const f of fs.readdirSync(path.join(__dirname, '..', '..', 'migrations'))) {
    fs.copyFileSync(path.join(__dirname, '..', '..', 'migrations', f), path.join(dir, f));
  }
  fs.appendFileSync(path.join(dir, '0001-topology.sql'), '\n-- edited\n');
  await expect(migrate(db.pool, dir)).rejects.toThrow(/forward-only/);
});
