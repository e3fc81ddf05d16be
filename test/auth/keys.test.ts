/**
 * API keys end to end: `meterdata keys create|list|revoke` in-process, the key used over HTTP
 * (ApiKey, x-api-key, Bearer), stored as a SHA-256 only, and refused at once when revoked.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import createConnectionPool, { sql } from '@databases/pg';
import { main } from '../../src/cli/main';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { openRuntime, type Runtime } from '../../src/runtime';
import { startServer, type ServerHandle } from '../../src/server';
import { upsertTopology } from '../../src/storage/topology';
import { smallTopology } from '../helpers/fixtures';
import { type Json } from './server';
import { TEST_JWT_SECRET } from './tokens';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

let env: NodeJS.ProcessEnv;
let dir: string;
let dropDb: (() => Promise<void>) | undefined;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterdata-keys-'));
  env = {
    MD_DATA_DIR: path.join(dir, 'data'),
    LOG_LEVEL: 'silent',
    MD_JWT_SECRET: TEST_JWT_SECRET,
  };
  if (process.env.DATABASE_URL) {
    const name = `md_test_${crypto.randomBytes(6).toString('hex')}`;
    const admin = createConnectionPool({
      connectionString: process.env.DATABASE_URL,
      poolSize: 1,
      bigIntMode: 'number',
    });
    await admin.query(sql`CREATE DATABASE ${sql.ident(name)}`);
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    dropDb = async () => {
      await admin.query(sql`DROP DATABASE IF EXISTS ${sql.ident(name)} WITH (FORCE)`);
      await admin.dispose();
    };
  }
  const rt = await openRuntime({ config: loadConfig(env), logger: silentLogger });
  await upsertTopology(rt.db.pool, smallTopology());
  await rt.close();
}, 60_000);
afterAll(async () => {
  await dropDb?.();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function cli(...args: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  try {
    await main(['node', 'meterdata', ...args], { stdout, stderr, env });
    return { code: 0, stdout: stdout.text, stderr: stderr.text, error: undefined };
  } catch (err) {
    const e = err as Error & { exitCode?: number; code?: string };
    return { code: e.exitCode ?? 1, stdout: stdout.text, stderr: stderr.text, error: e };
  }
}

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

test('keys: create shows a key once, list never, revoke refuses it at once', async () => {
  // create: the key alone on stdout, the explanation on stderr
  const headend = await cli('keys', 'create', '--role', 'headend', '--name', 'HES north');
  expect(headend.code).toBe(0);
  const key = headend.stdout.trim();
  expect(key).toMatch(/^mdk_[A-Za-z0-9_-]{43}$/);
  expect(headend.stderr).toMatch(
    /created API key 1 \(role headend, "HES north"\)\. It is shown only now/,
  );

  const customer = await cli(
    'keys',
    'create',
    '--role',
    'customer',
    '--account',
    'ACC-2',
    '--json',
  );
  const c = JSON.parse(customer.stdout);
  expect(c).toMatchObject({ id: 2, role: 'customer', accounts: ['ACC-2'], revokedAt: null });

  // refusals, with what to do
  const refusals = [
    [
      ['--role', 'customer'],
      1,
      'BAD_USER_INPUT',
      /a customer key needs the accounts it may see: --account CODE/,
    ],
    [
      ['--role', 'billing', '--account', 'ACC-1'],
      1,
      'BAD_USER_INPUT',
      /--account binds customer keys only/,
    ],
    [
      ['--role', 'customer', '--account', 'NOPE'],
      1,
      'UNKNOWN_TOPOLOGY_REFERENCE',
      /no account has code "NOPE"/,
    ],
    [
      ['--role', 'root'],
      2,
      'USAGE',
      /expected one of customer, billing, planner, operator, headend, admin/,
    ],
  ] as const;
  for (const [args, exitCode, code, message] of refusals) {
    const r = await cli('keys', 'create', ...args);
    expect({ exitCode: r.code, code: r.error?.code }).toEqual({ exitCode, code });
    expect(r.error?.message).toMatch(message);
  }

  // list: never the key, only its first characters
  const list = await cli('keys', 'list');
  expect(list.stdout).not.toContain(key);
  expect(list.stdout).toContain(`${key.slice(0, 12)}…`);
  expect(list.stdout.split('\n')[0]).toMatch(
    /^id\s+role\s+accounts\s+name\s+key\s+created\s+last used\s+status$/,
  );
  expect(list.stdout).toMatch(/1\s+headend\s+-\s+HES north\s+mdk_\S+…\s+\S+\s+-\s+active/);
  expect(list.stdout).toMatch(/2\s+customer\s+ACC-2\s+-/);

  // stored: the hash, never the key
  const rt: Runtime = await openRuntime({ config: loadConfig(env), logger: silentLogger });
  let server: ServerHandle | undefined;
  try {
    const rows = await rt.db.pool.query(sql`SELECT * FROM api_key ORDER BY id`);
    expect(rows[0].secret_sha256).toBe(sha256(key));
    expect(JSON.stringify(rows)).not.toContain(key.slice(4));

    server = await startServer(rt, { port: 0, host: '127.0.0.1' });
    const gql = async (headers: Record<string, string>, query = '{ viewer { subject roles } }') => {
      const res = await fetch(server!.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query }),
      });
      return { status: res.status, body: (await res.json()) as Json };
    };
    for (const h of [
      { authorization: `ApiKey ${key}` } as Record<string, string>,
      { 'x-api-key': key },
      { authorization: `Bearer ${key}` },
    ]) {
      expect((await gql(h)).body.data.viewer).toEqual({ subject: 'key:1', roles: ['HEADEND'] });
    }
    const upload = await fetch(server.url.replace(/graphql$/, 'ingest/files?format=csv'), {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'text/csv' },
      body: 'meter_serial,channel,interval_start,interval_seconds,value,unit\nM-1,delivered,2025-05-01T00:00:00Z,900,1,kWh\n',
    });
    expect(upload.status).toBe(202);
    // the customer key sees its own meter only
    const mine = await gql(
      { 'x-api-key': c.key },
      '{ a: meter(serial: "M-3") { serial } b: meter(serial: "M-1") { serial } }',
    );
    expect(mine.body.data).toEqual({ a: { serial: 'M-3' }, b: null });

    // revoked: refused from the very next request
    await rt.db.pool.query(sql`UPDATE api_key SET revoked_at = now() WHERE id = 1`);
    const after = await gql({ 'x-api-key': key });
    expect(after.status).toBe(401);
    expect(after.body.errors![0]).toMatchObject({
      message: expect.stringMatching(
        new RegExp(`^the API key ${key.slice(0, 12)}… was revoked at 20`),
      ),
      extensions: { code: 'UNAUTHENTICATED' },
    });
    // the first use was recorded
    const [used] = await rt.db.pool.query(sql`SELECT last_used_at FROM api_key WHERE id = 2`);
    expect(used.last_used_at).toBeInstanceOf(Date);
  } finally {
    await server?.close();
    await rt.close();
  }

  const revoke = await cli('keys', 'revoke', '2');
  expect(revoke.stdout).toMatch(
    /^revoked API key 2 \(mdk_\S+…, role customer\); requests with it are refused from now on/,
  );
  expect((await cli('keys', 'revoke', '2')).stdout).toMatch(
    /API key 2 \(mdk_\S+…\) was already revoked at/,
  );
  const missing = await cli('keys', 'revoke', '99');
  expect([missing.code, missing.error?.message]).toEqual([
    1,
    'NOT_FOUND: no API key has id 99; see meterdata keys list',
  ]);
  expect(
    (await cli('keys', 'list', '--json')).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).revokedAt !== null),
  ).toEqual([true, true]);
}, 120_000);
