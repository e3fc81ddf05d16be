/**
 * RELIABILITY.md 16–21 and the rate limit, over HTTP against startServer: what an abusive
 * document gets, and that it gets it before any resolver (or query) runs.
 */
import { sql } from '@databases/pg';
import { loadConfig, introspectionOn, suggestionsOn } from '../../src/config';
import { formatError, apiDatabase } from '../../src/server';
import { usingPostgres } from '../helpers/db';
import { openAuthServer, type AuthServer, type Json } from './server';
import { bearer } from './tokens';

let s: AuthServer;
let admin: Record<string, string>;

beforeAll(async () => {
  s = await openAuthServer();
  admin = await bearer('admin');
});
afterAll(async () => s.close());

/** Runs `fn` and returns how many queries the server's pool ran meanwhile. */
async function queriesDuring(fn: () => Promise<void>): Promise<number> {
  const before = s.queries();
  await fn();
  return s.queries() - before;
}

const codeOf = (r: { body: Json }) => r.body.errors?.[0]?.extensions?.code;

describe('16. deep nesting', () => {
  test('is rejected before any resolver runs: no database query', async () => {
    const deep = `{ meter(serial: "M-1") { servicePoint { transformer { feeder { substation {
      feeders { transformers { servicePoints { account { code } } } } } } } } } }`;
    let r!: Json;
    expect(await queriesDuring(async () => void (r = await s.gql(deep, admin)))).toBe(0);
    expect(r.status).toBe(400);
    expect(codeOf(r)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(r.body.errors[0].message).toMatch(/depth limit of 8 exceeded, found 10/);
    expect(r.body.data).toBeUndefined();
    // the control: the same identity's shallow query does reach the database
    const shallow = await queriesDuring(async () => {
      const ok = await s.gql(`{ meter(serial: "M-1") { serial } }`, admin);
      expect(ok.body).toEqual({ data: { meter: { serial: 'M-1' } } });
    });
    expect(shallow).toBeGreaterThan(0);
  });

  test('a list edge twice on one path (meter → transformer → meters → …) is rejected', async () => {
    const cycle = `{ meter(serial: "M-1") { transformer { meters { transformer { meters { serial } } } } } }`;
    let r!: Json;
    expect(await queriesDuring(async () => void (r = await s.gql(cycle, admin)))).toBe(0);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].message).toMatch(
      /Transformer\.meters occurs twice on one path \(Transformer\.meters → Transformer\.meters\)/,
    );
  });

  test('fragments do not hide depth or repeated edges', async () => {
    const viaFragments = `
      query { meter(serial: "M-1") { ...M } }
      fragment M on Meter { transformer { ...T } }
      fragment T on Transformer { meters { transformer { meters { serial } } } }`;
    const r = await s.gql(viaFragments, admin);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].message).toMatch(/occurs twice on one path/);
  });
});

describe('17. alias flooding, huge first:, token-heavy documents', () => {
  test('more than 15 aliases are rejected', async () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `m${i}: meter(serial: "M-1") { serial }`);
    let r!: Json;
    const n = await queriesDuring(
      async () => void (r = await s.gql(`{ ${aliases.join(' ')} }`, admin)),
    );
    expect(n).toBe(0);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].message).toMatch(/Aliases limit of 15 exceeded, found 16/);
    // 15 pass
    const ok = await s.gql(`{ ${aliases.slice(0, 15).join(' ')} }`, admin);
    expect(ok.body.errors).toBeUndefined();
  });

  test('a huge first: is refused by the cost limit, literal or variable', async () => {
    for (const [query, variables] of [
      [`{ meters(first: 1000000) { nodes { serial } } }`, undefined],
      [`query($n: Int) { meters(first: $n) { nodes { serial } } }`, { n: 1_000_000 }],
      [
        `{ ingestFiles(first: 100000) { nodes { id rejections(first: 1000) { code } } } }`,
        undefined,
      ],
    ] as const) {
      let r!: Json;
      const n = await queriesDuring(async () => void (r = await s.gql(query, admin, variables)));
      expect(n).toBe(0);
      expect(r.status).toBe(400);
      expect(codeOf(r)).toBe('QUERY_TOO_COMPLEX');
      expect(r.body.errors[0].extensions).toEqual({
        code: 'QUERY_TOO_COMPLEX',
        cost: expect.any(Number),
        maxCost: 25000,
      });
      expect(r.body.errors[0].message).toMatch(
        /estimated cost is \d+, more than the limit of 25000 \(MD_MAX_COST\)/,
      );
    }
  });

  test('many series under one list cost more than many scalars', async () => {
    const series = `series(from: "2025-03-01T00:00:00Z", to: "2025-03-02T00:00:00Z") { total }`;
    const cheap = await s.gql(`{ meters(first: 1000) { nodes { serial status } } }`, admin);
    expect(cheap.body.errors).toBeUndefined();
    const costly = await s.gql(`{ meters(first: 1000) { nodes { ${series} } } }`, admin);
    expect(codeOf(costly)).toBe('QUERY_TOO_COMPLEX');
  });

  test('a document of more than 3000 tokens is not even parsed to the end', async () => {
    const heavy = `{ ${'__typename '.repeat(4000)}}`;
    let r!: Json;
    expect(await queriesDuring(async () => void (r = await s.gql(heavy, admin)))).toBe(0);
    expect(r.status).toBe(400);
    expect(codeOf(r)).toBe('GRAPHQL_PARSE_FAILED');
    expect(r.body.errors[0].message).toMatch(/Document contains more th.. 3000 tokens/);
  });
});

test('18. batched HTTP arrays are refused', async () => {
  const r = await s.post(
    [{ query: '{ viewer { roles } }' }, { query: '{ viewer { roles } }' }],
    admin,
  );
  expect(r.status).toBe(400);
  expect(JSON.stringify(r.body)).toMatch(/[Bb]atch/);
});

describe('19. introspection, field suggestions and stack traces', () => {
  test('are off in production unless configured, and explicit settings win', () => {
    const prod = loadConfig({ NODE_ENV: 'production' });
    expect([introspectionOn(prod), suggestionsOn(prod)]).toEqual([false, false]);
    const dev = loadConfig({});
    expect([introspectionOn(dev), suggestionsOn(dev)]).toEqual([true, true]);
    const explicit = loadConfig({
      NODE_ENV: 'production',
      MD_INTROSPECTION: '1',
      MD_FIELD_SUGGESTIONS: '0',
    });
    expect([introspectionOn(explicit), suggestionsOn(explicit)]).toEqual([true, false]);
    expect(() => loadConfig({ MD_INTROSPECTION: 'maybe' })).toThrow(
      /MD_INTROSPECTION must be 1 or 0/,
    );
  });

  test('a production server answers without them', async () => {
    const prod = await openAuthServer({ config: { production: true } });
    try {
      const intro = await prod.gql('{ __schema { queryType { name } } }', admin);
      expect(codeOf(intro)).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(intro.body.errors[0].message).toMatch(/introspection/i);
      const typeQuery = await prod.gql('{ __type(name: "Meter") { fields { name } } }', admin);
      expect(codeOf(typeQuery)).toBe('GRAPHQL_VALIDATION_FAILED');

      const typo = await prod.gql('{ meter(serial: "M-1") { serail } }', admin);
      expect(typo.body.errors[0].message).toBe('Cannot query field "serail" on type "Meter".');
      const enumTypo = await prod.gql(
        '{ meter(serial: "M-1") { series(from: "2025-01-01T00:00:00Z", to: "2025-01-02T00:00:00Z", channel: DELIVERD) { total } } }',
        admin,
      );
      expect(enumTypo.body.errors[0].message).not.toMatch(/Did you mean/);

      for (const r of [intro, typo, enumTypo]) {
        expect(JSON.stringify(r.body)).not.toMatch(/stacktrace|\bat .*\.(js|ts):\d+/);
      }
    } finally {
      await prod.close();
    }
    // outside production the hints are there (the control)
    const dev = await s.gql('{ meter(serial: "M-1") { serail } }', admin);
    expect(dev.body.errors[0].message).toMatch(/Did you mean "serial"/);
  });
});

test('20. CSRF: simple requests without a preflight header are refused, even with a token', async () => {
  const get = await fetch(`${s.server.url}?query=${encodeURIComponent('{ viewer { roles } }')}`, {
    headers: admin,
  });
  expect(get.status).toBe(400);
  expect(await get.text()).toMatch(/CSRF/);
  const textPlain = await fetch(s.server.url, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', ...admin },
    body: JSON.stringify({ query: 'mutation { saveCsvProfile(name: "x", profile: {}) { name } }' }),
  });
  expect(textPlain.status).toBe(400);
  expect(await textPlain.text()).toMatch(/CSRF/);
  // with the preflight header (what a cross-site form cannot send) it runs
  const preflighted = await fetch(
    `${s.server.url}?query=${encodeURIComponent('{ viewer { roles } }')}`,
    {
      headers: { ...admin, 'apollo-require-preflight': 'true' },
    },
  );
  expect(((await preflighted.json()) as Json).data.viewer.roles).toEqual(['ADMIN']);
});

describe('21. a database error', () => {
  test('reaches the client masked, with a code, and no SQL text', async () => {
    await s.db.pool.query(sql`ALTER TABLE reading_history RENAME TO reading_history_hidden`);
    try {
      const r = await s.gql(
        `{ meter(serial: "M-1") { history(from: "2025-03-01T00:00:00Z", to: "2025-03-02T00:00:00Z") { version } } }`,
        admin,
      );
      expect(r.status).toBe(200);
      expect(r.body.errors).toEqual([
        {
          message: 'Internal server error',
          locations: [{ line: 1, column: 26 }],
          path: ['meter', 'history'],
          extensions: { code: 'INTERNAL_SERVER_ERROR' },
        },
      ]);
      expect(JSON.stringify(r.body)).not.toMatch(/reading_history|relation|SELECT|FROM|42P01/i);
    } finally {
      await s.db.pool.query(sql`ALTER TABLE reading_history_hidden RENAME TO reading_history`);
    }
  });

  test('a statement timeout is named, and the API pool of a PostgreSQL server carries it', async () => {
    const timeout = Object.assign(new Error('canceling statement due to statement timeout'), {
      code: '57014',
    });
    expect(formatError({ message: timeout.message }, timeout)).toEqual({
      message: expect.stringMatching(/statement timeout \(MD_STATEMENT_TIMEOUT_MS\)/),
      extensions: { code: 'QUERY_TIMEOUT' },
    });
    const api = await apiDatabase({
      config: { ...s.rt.config, statementTimeoutMs: 1234 },
      db: s.db,
    });
    try {
      if (usingPostgres) {
        const [row] = await api.pool.query(sql`SHOW statement_timeout`);
        expect(row.statement_timeout).toBe('1234ms');
        await expect(api.pool.query(sql`SELECT pg_sleep(2)`)).rejects.toMatchObject({
          code: '57014',
        });
      } else {
        // the embedded database is one connection in this process: it has no timeout to set
        expect(api.pool).toBe(s.db.pool);
      }
    } finally {
      await api.close();
    }
  });
});

describe('rate limits', () => {
  test('a token bucket per identity answers 429 with Retry-After', async () => {
    const limited = await openAuthServer({ config: { rateLimitPerSecond: 1, rateLimitBurst: 3 } });
    try {
      const a = await bearer('admin', { subject: 'a' });
      const b = await bearer('admin', { subject: 'b' });
      const q = '{ viewer { subject } }';
      for (let i = 0; i < 3; i++) expect((await limited.gql(q, a)).status).toBe(200);
      const over = await limited.gql(q, a);
      expect(over.status).toBe(429);
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(codeOf(over)).toBe('RATE_LIMITED');
      // another identity has its own bucket
      expect((await limited.gql(q, b)).status).toBe(200);
      // requests without valid credentials share their address's bucket: 401 until it is empty
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await limited.gql(q, {})).status);
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
    } finally {
      await limited.close();
    }
  });
});
