/**
 * VEE over GraphQL: rule sets, exceptions (paging, accept, resolve), revalidate (idempotent),
 * Meter.veeFlags and Meter.veeSummary. PGlite, and PostgreSQL when DATABASE_URL is set.
 */
import { internalIdentity } from '../../src/auth/identity';
import { ingestItems } from '../../src/ingest/readings';
import { openApi, readings, type Api, type Json } from '../api/harness';

let api: Api;
const op = () => api.gw.context(null, internalIdentity('operator', { name: 'olga' }));
const gql = (q: string, v?: Record<string, unknown>) => api.gql(q, v, op());

const DAY = 86_400_000;
const START = '2026-01-05T05:00:00Z'; // local midnight, New York
const T0 = Date.parse(START);
const load = (i: number) => 0.2 + 0.15 * Math.sin((i * Math.PI) / 48) ** 2 + (i % 7) * 0.01;
const HIST = 14;

beforeAll(async () => {
  api = await openApi();
  const items = readings('M-1', START, (HIST + 1) * 96, load).filter(
    (_, k) => k < HIST * 96 + 40 || k > HIST * 96 + 43,
  );
  items[HIST * 96 + 60]!.value = 5; // a spike on the last day (index shifted by the gap: fine)
  await ingestItems(api.db.pool, items, { source: 'test', format: 'json', now: T0 + 40 * DAY });
});
afterAll(async () => {
  await api.close();
});

describe('rule sets', () => {
  test('list, one class, update (new version), invalid input', async () => {
    const list = await gql(`{ veeRuleSets { meterClass version name } }`);
    expect(list.errors).toBeUndefined();
    expect(list.data.veeRuleSets.map((r: { version: number }) => r.version)).toEqual([1, 1, 1]);
    const up = await gql(
      `mutation($r: JSONObject!) { updateVeeRuleSet(meterClass: COMMERCIAL, ruleSet: $r) { version createdBy ruleSet } }`,
      { r: { rules: { zero_run: { enabled: false } } } },
    );
    expect(up.errors).toBeUndefined();
    expect(up.data.updateVeeRuleSet).toMatchObject({ version: 2, createdBy: 'internal:olga' });
    expect(up.data.updateVeeRuleSet.ruleSet.rules.zero_run.enabled).toBe(false);
    const one = await gql(`{ veeRuleSet(meterClass: COMMERCIAL) { version } }`);
    expect(one.data.veeRuleSet.version).toBe(2);
    const bad = await gql(
      `mutation($r: JSONObject!) { updateVeeRuleSet(meterClass: COMMERCIAL, ruleSet: $r) { version } }`,
      { r: { rules: { spike: { params: { minKw: 'x' } } } } },
    );
    expect(bad.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      problems: [expect.objectContaining({ path: expect.stringContaining('spike') })],
    });
  });

  test('a customer may not change rule sets', async () => {
    const r = await api.gql(
      `mutation { updateVeeRuleSet(meterClass: COMMERCIAL, ruleSet: {}) { version } }`,
      undefined,
      api.gw.context(null, internalIdentity('customer', { accounts: ['ACC-1'] })),
    );
    expect(r.errors?.[0]?.extensions?.code).toMatch(/FORBIDDEN|UNAUTHENTICATED/);
  });
});

describe('exceptions', () => {
  const LIST = `query($f: VeeExceptionFilter, $first: Int, $after: String) {
    veeExceptions(filter: $f, first: $first, after: $after) {
      nodes { id meterSerial channel rule severity status from to detail ruleSetVersion decidedBy note }
      pageInfo { hasNextPage endCursor }
    } }`;

  test('filter and paging', async () => {
    const all = await gql(LIST, { f: { meterSerial: 'M-1', status: 'OPEN' }, first: 100 });
    expect(all.errors).toBeUndefined();
    const rules = all.data.veeExceptions.nodes.map((n: { rule: string }) => n.rule);
    expect(rules).toEqual(expect.arrayContaining(['missing', 'spike']));
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Json = await gql(LIST, {
        f: { meterSerial: 'M-1', status: 'OPEN' },
        first: 1,
        after,
      });
      seen.push(...page.data.veeExceptions.nodes.map((n: { id: string }) => n.id));
      if (!page.data.veeExceptions.pageInfo.hasNextPage) break;
      after = page.data.veeExceptions.pageInfo.endCursor;
    }
    expect(seen).toEqual(all.data.veeExceptions.nodes.map((n: { id: string }) => n.id));
    const missing = await gql(LIST, { f: { rule: 'missing', severity: 'WARNING' } });
    expect(missing.data.veeExceptions.nodes).toHaveLength(1);
    expect(missing.data.veeExceptions.nodes[0]).toMatchObject({
      from: new Date(T0 + (HIST * 96 + 40) * 900_000).toISOString(),
      to: new Date(T0 + (HIST * 96 + 44) * 900_000).toISOString(),
    });
  });

  test('accept and resolve; a decided exception cannot be decided again', async () => {
    const list = await gql(LIST, { f: { status: 'OPEN' } });
    const [a, b] = list.data.veeExceptions.nodes;
    const acc = await gql(
      `mutation($id: ID!) { acceptVeeException(id: $id, note: "known load") { status decidedBy note } }`,
      { id: a.id },
    );
    expect(acc.data.acceptVeeException).toEqual({
      status: 'ACCEPTED',
      decidedBy: 'internal:olga',
      note: 'known load',
    });
    const res = await gql(`mutation($id: ID!) { resolveVeeException(id: $id) { status } }`, {
      id: b.id,
    });
    expect(res.data.resolveVeeException.status).toBe('RESOLVED');
    const again = await gql(`mutation($id: ID!) { resolveVeeException(id: $id) { status } }`, {
      id: a.id,
    });
    expect(again.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const none = await gql(`mutation { resolveVeeException(id: "999999") { status } }`);
    expect(none.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  test('revalidate is idempotent and does not raise accepted exceptions again', async () => {
    const REV = `mutation($s: String, $all: Boolean) { revalidate(meterSerial: $s, all: $all, from: "${new Date(T0).toISOString()}", to: "${new Date(T0 + (HIST + 1) * DAY).toISOString()}") { windows failures exceptionsCreated exceptionsResolved } }`;
    const first = await gql(REV, { s: 'M-1' });
    expect(first.errors).toBeUndefined();
    const second = await gql(REV, { s: 'M-1' });
    expect(second.data.revalidate).toMatchObject({ exceptionsCreated: 0, exceptionsResolved: 0 });
    expect(second.data.revalidate.failures).toBe(first.data.revalidate.failures);
    const all = await gql(REV, { all: true });
    expect(all.errors).toBeUndefined();
    const again = await gql(REV, { all: true });
    expect(again.data.revalidate).toMatchObject({ exceptionsCreated: 0, exceptionsResolved: 0 });
    const bad = await gql(REV, {});
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('Meter.veeFlags and Meter.veeSummary', () => {
  test('flags aligned with series.values; per-day counts', async () => {
    const from = new Date(T0 + HIST * DAY).toISOString();
    const to = new Date(T0 + (HIST + 1) * DAY).toISOString();
    const r = await gql(
      `query($f: DateTime!, $t: DateTime!) { meter(serial: "M-1") {
        series(from: $f, to: $t) { values }
        veeFlags(from: $f, to: $t)
        veeSummary(from: $f, to: $t) { date valid estimated edited failed missing openExceptions }
      } }`,
      { f: from, t: to },
    );
    expect(r.errors).toBeUndefined();
    const { series, veeFlags, veeSummary } = r.data.meter;
    expect(veeFlags).toHaveLength(series.values.length);
    expect(veeFlags[40]).toEqual(['missing']);
    expect(veeFlags.filter((f: string[]) => f.includes('spike'))).toHaveLength(1);
    expect(veeFlags[0]).toEqual([]);
    expect(veeSummary).toEqual([
      {
        date: '2026-01-19',
        valid: 92,
        estimated: 0,
        edited: 0,
        failed: 0,
        missing: 4,
        openExceptions: expect.any(Number),
      },
    ]);
  });
});
