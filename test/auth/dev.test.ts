/**
 * Start-up: a development start prints a token that works (from this machine only), a
 * production start without authentication configured is refused and says what to set, and
 * RS256 tokens are verified through a JWKS.
 */
import fs from 'node:fs';
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { assertAuthConfigured, developmentNotice, developmentToken } from '../../src/auth';
import { Authenticator } from '../../src/auth/authenticate';
import { devSecretPath } from '../../src/auth/dev-secret';
import { loadConfig, type Config } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { type Runtime } from '../../src/runtime';
import { startServer } from '../../src/server';
import { openTestDatabase, type TestDatabase } from '../helpers/db';
import { PostgresQueue } from '../../src/ingest/queue';
import { TEST_JWT_SECRET } from './tokens';

let db: TestDatabase;
let dataDir: string;

beforeAll(async () => {
  db = await openTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterdata-dev-'));
});
afterAll(async () => {
  await db.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const runtime = (config: Config): Runtime => ({
  config,
  logger: silentLogger,
  db,
  queue: new PostgresQueue(db.pool),
  close: async () => {},
});

async function viewer(url: string, token: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ viewer { subject roles } }' }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('a development start', () => {
  test('prints an admin token signed with a secret kept in the data directory', async () => {
    const config = loadConfig({ MD_DATA_DIR: dataDir });
    const first = await developmentToken(config);
    expect(first).toMatchObject({ role: 'admin', localOnly: true });
    const file = devSecretPath(dataDir);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const secret = fs.readFileSync(file, 'utf8');
    // reused, not replaced
    const second = await developmentToken(config);
    expect(fs.readFileSync(file, 'utf8')).toBe(secret);

    const server = await startServer(runtime(config), { port: 0, host: '127.0.0.1' });
    try {
      for (const t of [first!, second!]) {
        expect((await viewer(server.url, t.token)).body).toEqual({
          data: { viewer: { subject: 'jwt:developer', roles: ['ADMIN'] } },
        });
      }
      const notice = await developmentNotice(config, server.url);
      expect(notice).toContain('development token (role admin, valid until');
      expect(notice).toContain('accepted from this machine only');
      expect(notice).toMatch(/\n {2}eyJ[\w-]+\.[\w-]+\.[\w-]+\n/);
    } finally {
      await server.close();
    }
  });

  test('a development token is accepted from this machine only', async () => {
    const config = loadConfig({ MD_DATA_DIR: dataDir });
    const t = (await developmentToken(config))!;
    const auth = new Authenticator({ config, db: db.pool, logger: silentLogger });
    const cred = { kind: 'jwt', token: t.token } as const;
    await expect(auth.authenticate(cred, '127.0.0.1')).resolves.toMatchObject({
      development: true,
    });
    await expect(auth.authenticate(cred, '::ffff:127.0.0.1')).resolves.toMatchObject({
      development: true,
    });
    await expect(auth.authenticate(cred, '10.1.2.3')).rejects.toThrow(
      /development tokens are accepted from this machine only/,
    );
  });

  test('with MD_JWT_SECRET it signs with that, and nothing is written', async () => {
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'meterdata-dev-'));
    const config = loadConfig({ MD_DATA_DIR: elsewhere, MD_JWT_SECRET: TEST_JWT_SECRET });
    const t = (await developmentToken(config))!;
    expect(t.localOnly).toBe(false);
    expect(fs.existsSync(devSecretPath(elsewhere))).toBe(false);
    const auth = new Authenticator({ config, db: db.pool, logger: silentLogger });
    await expect(
      auth.authenticate({ kind: 'jwt', token: t.token }, '10.1.2.3'),
    ).resolves.toMatchObject({
      roles: ['admin'],
      development: false,
    });
  });
});

describe('a production start', () => {
  const prod = (env: Record<string, string> = {}) =>
    loadConfig({ NODE_ENV: 'production', MD_DATA_DIR: dataDir, ...env });

  test('without authentication configured is refused, saying what to set', async () => {
    expect(() => assertAuthConfigured(prod())).toThrow(
      expect.objectContaining({
        code: 'AUTH_NOT_CONFIGURED',
        message: expect.stringMatching(
          /refusing to start in production .*set MD_JWT_SECRET .* or MD_JWKS_URL .*, or set MD_ALLOW_API_KEYS_ONLY=1/,
        ),
      }),
    );
    await expect(
      startServer(runtime(prod()), { port: 0, host: '127.0.0.1' }),
    ).rejects.toMatchObject({
      code: 'AUTH_NOT_CONFIGURED',
    });
    for (const env of [
      { MD_JWT_SECRET: TEST_JWT_SECRET } as Record<string, string>,
      { MD_JWKS_URL: 'https://idp.example/.well-known/jwks.json' },
      { MD_ALLOW_API_KEYS_ONLY: '1' },
    ]) {
      expect(() => assertAuthConfigured(prod(env))).not.toThrow();
    }
  });

  test.each([
    [{ MD_JWT_SECRET: 'short' }, /MD_JWT_SECRET must be at least 32 bytes \(it has 5\)/],
    [
      { MD_JWKS_URL: 'http://idp.example/jwks' },
      /MD_JWKS_URL must be an https:\/\/ URL in production/,
    ],
    [{ MD_JWT_SECRET: TEST_JWT_SECRET, MD_JWT_ALGORITHMS: 'none' }, /MD_JWT_ALGORITHMS holds none/],
  ])('refuses bad settings %j', (env, message) => {
    expect(() => assertAuthConfigured(prod(env))).toThrow(message);
  });

  test('prints no development token, and accepts none', async () => {
    const config = prod({ MD_ALLOW_API_KEYS_ONLY: '1' });
    expect(await developmentToken(config)).toBeNull();
    expect(await developmentNotice(config, 'http://x')).toBeNull();
    const devToken = (await developmentToken(loadConfig({ MD_DATA_DIR: dataDir })))!.token;
    const auth = new Authenticator({ config, db: db.pool, logger: silentLogger });
    await expect(auth.authenticate({ kind: 'jwt', token: devToken }, '127.0.0.1')).rejects.toThrow(
      /tokens signed with HS256 are not accepted here/,
    );
  });
});

test('RS256 tokens are verified through the identity provider’s JWKS', async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const idp = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
  const jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks`;
  const config = loadConfig({
    MD_DATA_DIR: dataDir,
    MD_JWKS_URL: jwksUrl,
    MD_JWT_ISSUER: 'https://idp.example',
    MD_JWT_AUDIENCE: 'meterdata',
  });
  expect(config.jwtAlgorithms).toEqual(['RS256']);
  const server = await startServer(runtime(config), { port: 0, host: '127.0.0.1' });
  try {
    const sign = (claims: Record<string, unknown>, iss = 'https://idp.example') =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setSubject('portal-user-7')
        .setIssuer(iss)
        .setAudience('meterdata')
        .setExpirationTime('10m')
        .sign(privateKey);
    const ok = await viewer(server.url, await sign({ roles: ['billing'] }));
    expect(ok.body).toEqual({
      data: { viewer: { subject: 'jwt:portal-user-7', roles: ['BILLING'] } },
    });
    const wrongIssuer = await viewer(
      server.url,
      await sign({ roles: ['billing'] }, 'https://evil.example'),
    );
    expect(wrongIssuer.status).toBe(401);
    expect(JSON.stringify(wrongIssuer.body)).toMatch(/iss claim is not accepted/);
  } finally {
    await server.close();
    await new Promise((r) => idp.close(r));
  }
});
