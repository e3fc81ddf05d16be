/**
 * VEE storage: rule sets (seeded, versioned, validated), the rules run on the write path (flags
 * and exceptions, idempotent, stale exceptions resolved) and the audit table's protection as the
 * application role. Runs on PGlite, and on PostgreSQL when DATABASE_URL is set.
 */
import { sql } from '@databases/pg';
import { ingestItems } from '../../src/ingest/readings';
import { DEFAULT_RULE_SETS, RULE_BIT } from '../../src/domain/vee';
import { readDays } from '../../src/storage/readings';
import { upsertTopology } from '../../src/storage/topology';
import {
  currentRuleSets,
  listExceptions,
  updateRuleSet,
  VeeMeterCache,
} from '../../src/storage/vee';
import { openTestDatabase, type TestDatabase } from '../helpers/db';
import { smallTopology } from '../helpers/fixtures';
import { readings } from '../api/harness';

let db: TestDatabase;
let m1: number;
beforeAll(async () => {
  db = await openTestDatabase();
  await upsertTopology(db.pool, smallTopology());
  const [r] = await db.pool.query(sql`SELECT id FROM meter WHERE serial = 'M-1'`);
  m1 = Number(r.id);
});
afterAll(async () => {
  await db.close();
});

const DAY = 86_400_000;
// Local midnight in New York (EST, UTC−5), a Monday.
const START = '2026-01-05T05:00:00Z';
const T0 = Date.parse(START);
/** A daily shape with standby load, so no zero runs or identical runs. */
const load = (i: number) => 0.2 + 0.15 * Math.sin((i * Math.PI) / 48) ** 2 + (i % 7) * 0.01;

async function ingest(items: ReturnType<typeof readings>, now = T0 + 40 * DAY) {
  return ingestItems(db.pool, items, { source: 'test', format: 'json', now });
}

describe('rule sets', () => {
  test('seeded with the defaults at version 1, a change is the next version', async () => {
    const sets = await currentRuleSets(db.pool);
    expect(sets.RESIDENTIAL.ruleSet).toEqual(DEFAULT_RULE_SETS.RESIDENTIAL);
    expect(sets.COMMERCIAL.ruleSet.version).toBe(1);
    const v2 = await updateRuleSet(
      db.pool,
      'INDUSTRIAL',
      { rules: { spike: { enabled: true, severity: 'error', params: { minKw: 30 } } } },
      'alice',
    );
    expect(v2.ruleSet.version).toBe(2);
    expect(v2.ruleSet.rules.spike.params.minKw).toBe(30);
    const again = await currentRuleSets(db.pool);
    expect(again.INDUSTRIAL.ruleSet.version).toBe(2);
    expect(again.INDUSTRIAL.createdBy).toBe('alice');
    const [n] = await db.pool.query(
      sql`SELECT count(*)::int AS n FROM vee_rule_set WHERE meter_class = 'INDUSTRIAL'`,
    );
    expect(n.n).toBe(2);
  });

  test('an invalid rule set is refused with its problems', async () => {
    await expect(
      updateRuleSet(db.pool, 'RESIDENTIAL', { rules: { spike: { params: { minKw: -1 } } } }, null),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(
      updateRuleSet(db.pool, 'RESIDENTIAL', { rules: { nope: {} } }, null),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { problems: expect.any(Array) } });
    expect((await currentRuleSets(db.pool)).RESIDENTIAL.ruleSet.version).toBe(1);
  });
});

describe('rules on the write path', () => {
  const HIST = 14; // days of clean history before the window
  const items = readings('M-1', START, (HIST + 2) * 96, load);
  const winDay = HIST; // local day index of the window's first day
  const gap = new Set([winDay * 96 + 40, winDay * 96 + 41, winDay * 96 + 42]);
  const spikeAt = (winDay + 1) * 96 + 50;

  test('history, then a day with a gap and a spike: exceptions and flags', async () => {
    await ingest(items.slice(0, HIST * 96));
    let ex = await listExceptions(db.pool, { meterSerial: 'M-1' }, { first: 100 });
    expect(ex).toEqual([]);
    const window = items
      .slice(HIST * 96)
      .filter((_, k) => !gap.has(HIST * 96 + k))
      .map((r) => (r.intervalStart === items[spikeAt]!.intervalStart ? { ...r, value: 5 } : r));
    await ingest(window);
    ex = await listExceptions(db.pool, { meterSerial: 'M-1', status: 'open' }, { first: 100 });
    const rules = ex.map((e) => e.rule).sort();
    expect(rules).toContain('missing');
    expect(rules).toContain('spike');
    const missing = ex.find((e) => e.rule === 'missing')!;
    expect(missing.from.getTime()).toBe(T0 + (winDay * 96 + 40) * 900_000);
    expect(missing.to.getTime()).toBe(T0 + (winDay * 96 + 43) * 900_000);
    expect(missing).toMatchObject({ status: 'open', ruleSetVersion: 1, channel: 'delivered' });
    const spikeTs = T0 + spikeAt * 900_000;
    const day = Math.floor(spikeTs / DAY);
    const [row] = await readDays(db.pool, m1, 1, day, day);
    const i = (spikeTs - day * DAY) / 900_000;
    expect(row!.veeFlags![i]! & RULE_BIT.spike).toBe(RULE_BIT.spike);
  });

  test('the same chunk again creates nothing; filling the gap resolves its exception', async () => {
    const count = async (status: string) =>
      (
        await db.pool.query(
          sql`SELECT count(*)::int AS n FROM vee_exception WHERE status = ${status}`,
        )
      )[0].n as number;
    const open = await count('open');
    const window = items
      .slice(HIST * 96)
      .filter((_, k) => !gap.has(HIST * 96 + k))
      .map((r) => (r.intervalStart === items[spikeAt]!.intervalStart ? { ...r, value: 5 } : r));
    await ingest(window);
    expect(await count('open')).toBe(open);
    await ingest([...gap].map((k) => items[k]!));
    const ex = await listExceptions(
      db.pool,
      { meterSerial: 'M-1', rule: 'missing' },
      { first: 10 },
    );
    expect(ex.map((e) => [e.status, e.decidedBy])).toEqual([['resolved', 'vee']]);
    expect(await count('open')).toBe(open - 1);
    // The filled day was stored already: its flags were validated again after the merge.
    const gapTs = T0 + (winDay * 96 + 40) * 900_000;
    const day = Math.floor(gapTs / DAY);
    const [row] = await readDays(db.pool, m1, 1, day, day);
    const i = (gapTs - day * DAY) / 900_000;
    for (let k = i; k < i + 3; k++) expect((row!.veeFlags?.[k] ?? 0) & RULE_BIT.missing).toBe(0);
  });
});

describe('a chunk with stored and new meter-channels', () => {
  // Two local days from a Monday in March (EST): M-2 has them stored; M-1's received channel
  // is new.
  const START2 = '2026-03-02T05:00:00Z';
  const T2 = Date.parse(START2);
  const at = (i: number) => T2 + i * 900_000;
  const NOW2 = T2 + 10 * DAY;
  const m2Days = readings('M-2', START2, 3 * 96, load);
  const gapOf = (first: number) => new Set([first, first + 1, first + 2]);
  const m2Gap = gapOf(2 * 96 + 40);
  const m1Gap = gapOf(30);
  const chunk = [
    // the second half of M-2's day 1 again (days stored already), then its day 2 with a gap
    ...m2Days.slice(96 + 48).filter((_, k) => !m2Gap.has(96 + 48 + k)),
    ...readings('M-1', START2, 2 * 96, load, { channel: 'received' }).filter(
      (_, k) => !m1Gap.has(k),
    ),
  ];
  const missingOf = async (serial: string) =>
    (
      await listExceptions(
        db.pool,
        { meterSerial: serial, rule: 'missing', status: 'open' },
        { first: 50 },
      )
    )
      .filter((e) => e.from.getTime() >= T2)
      .map((e) => [e.channel, e.from.getTime(), e.to.getTime()]);

  test('each new exception is raised once, the stored one after the merge', async () => {
    await ingest(m2Days.slice(0, 2 * 96), NOW2);
    expect(await missingOf('M-2')).toEqual([]);
    const r = await ingest(chunk, NOW2);
    expect(r).toMatchObject({ accepted: chunk.length - 48, unchanged: 48, rejected: 0 });
    // M-2: validated over its merged days, so only the gap of day 2 (the first half of day 1,
    // not in this chunk, is stored and not missing).
    expect(await missingOf('M-2')).toEqual([['delivered', at(2 * 96 + 40), at(2 * 96 + 43)]]);
    // … and nothing raised from the chunk's half day and resolved again.
    const all = await listExceptions(
      db.pool,
      { meterSerial: 'M-2', from: new Date(T2) },
      { first: 50 },
    );
    expect(all.map((e) => e.status)).toEqual(['open']);
    // M-1's received channel: raised with the insert of its new days, and flagged.
    expect(await missingOf('M-1')).toEqual([['received', at(30), at(33)]]);
    const day = Math.floor(at(30) / DAY);
    const [row] = await readDays(db.pool, m1, 2, day, day);
    const i = (at(30) - day * DAY) / 900_000;
    for (let k = i; k < i + 3; k++)
      expect(row!.veeFlags![k]! & RULE_BIT.missing).toBe(RULE_BIT.missing);
    const [n] = await db.pool.query(sql`SELECT count(*)::int AS n FROM vee_exception`);
    await ingest(chunk, NOW2);
    const [again] = await db.pool.query(sql`SELECT count(*)::int AS n FROM vee_exception`);
    expect(again.n).toBe(n.n);
  });
});

describe('reading_audit', () => {
  test('append-only, and the application role cannot update, delete or truncate it', async () => {
    await db.pool.query(sql`
      INSERT INTO reading_audit (meter_id, channel, from_ts, to_ts, action, changed_by, reason,
                                 old_values, new_values, old_quality, new_quality)
      VALUES (${m1}, 1, now(), now() + interval '15 minutes', 'edit', 'alice', 'test',
              '{1}', '{2}', '{0}', '{7}')`);
    for (const stmt of [
      sql`UPDATE reading_audit SET reason = 'x'`,
      sql`DELETE FROM reading_audit`,
      sql`TRUNCATE reading_audit`,
    ]) {
      await expect(db.pool.query(stmt)).rejects.toThrow(/append-only|permission/);
    }
    const asApp = async (stmt: ReturnType<typeof sql>) =>
      db.pool.tx(async (tx) => {
        await tx.query(sql`SET LOCAL ROLE meterdata_app`);
        return tx.query(stmt);
      });
    // The role may insert and read …
    await asApp(sql`
      INSERT INTO reading_audit (meter_id, channel, from_ts, to_ts, action, changed_by, reason,
                                 old_values, new_values, old_quality, new_quality)
      VALUES (${m1}, 1, now(), now() + interval '15 minutes', 'edit', 'bob', 'test',
              '{1}', '{2}', '{0}', '{7}')`);
    expect((await asApp(sql`SELECT count(*)::int AS n FROM reading_audit`))[0].n).toBe(2);
    // … and nothing else.
    for (const stmt of [
      sql`UPDATE reading_audit SET reason = 'x'`,
      sql`DELETE FROM reading_audit`,
      sql`TRUNCATE reading_audit`,
      sql`DROP TABLE reading_audit`,
      sql`ALTER TABLE reading_audit DISABLE TRIGGER reading_audit_no_truncate`,
    ]) {
      await expect(asApp(stmt)).rejects.toThrow(/permission denied|must be owner/);
    }
    const [n] = await db.pool.query(sql`SELECT count(*)::int AS n FROM reading_audit`);
    expect(n.n).toBe(2);
  });
});

describe('VeeMeterCache', () => {
  test('looks a meter up once, and past its bound still answers every meter asked for', async () => {
    const ids = (
      await db.pool.query(
        sql`SELECT id FROM meter WHERE serial IN ('M-1', 'M-2', 'M-3') ORDER BY serial`,
      )
    ).map((r: { id: unknown }) => Number(r.id));
    let queries = 0;
    const counting = {
      query: (q: Parameters<typeof db.pool.query>[0]) => {
        queries++;
        return db.pool.query(q);
      },
    } as unknown as typeof db.pool;
    const cache = new VeeMeterCache(2);
    const first = await cache.get(counting, [ids[0]!, ids[1]!]);
    expect([...first.keys()]).toEqual([ids[0], ids[1]]);
    expect(first.get(ids[0]!)).toMatchObject({ serial: 'M-1', timeZone: 'America/New_York' });
    await cache.get(counting, [ids[1]!, ids[0]!]);
    expect(queries).toBe(1); // both known
    // A third meter passes the bound of 2: the cache starts again, yet answers all three.
    const all = await cache.get(counting, ids);
    expect(queries).toBe(2);
    expect([...all.keys()].sort()).toEqual([...ids].sort());
    expect(all.get(ids[2]!)).toMatchObject({ serial: 'M-3' });
    // An unknown id is simply absent.
    expect((await cache.get(counting, [-1])).size).toBe(0);
  });
});
