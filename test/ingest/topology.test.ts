import { sql } from '@databases/pg';
import { ErrorCode, MeterdataError } from '../../src/errors';
import { type TopologyDoc } from '../../src/domain/topology';
import { importTopology } from '../../src/ingest/topology';
import { openTestDatabase, type TestDatabase } from '../helpers/db';
import { smallTopology } from '../helpers/fixtures';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());

const count = async (table: string) =>
  Number((await db.pool.query(sql`SELECT count(*) AS n FROM ${sql.ident(table)}`))[0].n);

test('imports a document, and re-importing it changes nothing', async () => {
  const counts = await importTopology(db.pool, smallTopology());
  expect(counts).toEqual({
    substations: 1,
    feeders: 1,
    transformers: 2,
    accounts: 2,
    servicePoints: 3,
    meters: 3,
  });
  await importTopology(db.pool, smallTopology());
  expect(await count('meter')).toBe(3);
});

test('a partial document may hang off stored parents; missing lists count as empty', async () => {
  const doc = {
    meters: [
      {
        serial: 'M-5',
        servicePoint: 'SP-2',
        installedAt: '2024-01-01T00:00:00Z',
        commPath: 'RF_MESH',
      },
    ],
  } as unknown as TopologyDoc;
  const counts = await importTopology(db.pool, doc);
  expect(counts.meters).toBe(1);
  expect(counts.substations).toBe(0);
});

test('an invalid document writes nothing and lists every problem', async () => {
  const before = await count('transformer');
  const doc: TopologyDoc = {
    ...smallTopology(),
    transformers: [{ code: 'TX-7', feeder: 'FDR-404', ratedKva: 10, phase: 'A' }],
    servicePoints: [{ code: 'SP-7', transformer: 'TX-1', premise: 'x', timeZone: 'Nowhere/City' }],
    meters: [],
  };
  const err = await importTopology(db.pool, doc).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MeterdataError);
  const e = err as MeterdataError;
  expect(e.code).toBe(ErrorCode.BAD_USER_INPUT);
  expect(e.details?.problems).toEqual([
    expect.objectContaining({ path: 'transformers[0].feeder', code: 'UNKNOWN_TOPOLOGY_REFERENCE' }),
    expect.objectContaining({ path: 'servicePoints[0].timeZone', code: 'BAD_TIME_ZONE' }),
  ]);
  expect(await count('transformer')).toBe(before);
});

test('only unknown references: UNKNOWN_TOPOLOGY_REFERENCE', async () => {
  const doc: TopologyDoc = {
    substations: [],
    feeders: [],
    transformers: [],
    accounts: [],
    servicePoints: [{ code: 'SP-8', transformer: 'TX-404', premise: 'x', timeZone: 'UTC' }],
    meters: [],
  };
  await expect(importTopology(db.pool, doc)).rejects.toMatchObject({
    code: ErrorCode.UNKNOWN_TOPOLOGY_REFERENCE,
    message: expect.stringMatching(/TX-404/),
  });
});

test('an mrid held by another stored meter is BAD_USER_INPUT', async () => {
  const doc = {
    meters: [
      {
        serial: 'M-6',
        mrid: 'mrid-1',
        servicePoint: 'SP-2',
        installedAt: '2024-01-01T00:00:00Z',
        commPath: 'PLC',
      },
    ],
  } as unknown as TopologyDoc;
  await expect(importTopology(db.pool, doc)).rejects.toMatchObject({
    code: ErrorCode.BAD_USER_INPUT,
    message: expect.stringMatching(/mrid/),
  });
});
