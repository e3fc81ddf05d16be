/**
 * `meterdata topology import` (JSON and flat CSV) and `meterdata migrate`, in-process: counts,
 * re-imports that update instead of duplicating, and invalid files that write nothing.
 */
import { sql, type ConnectionPool } from '@databases/pg';
import { cliSandbox, type CliSandbox } from './harness';
import { smallTopology } from '../helpers/fixtures';

let box: CliSandbox;

beforeAll(async () => {
  box = await cliSandbox();
});
afterAll(async () => box.cleanup());

const CSV_HEADER =
  'substation,feeder,transformer,transformer_kva,transformer_phase,service_point,premise,account,customer_class,time_zone,meter_serial,meter_mrid,multiplier,interval_seconds,channels,installed_at,removed_at,status,comm_path';

function csvRow(
  o: Partial<Record<string, string>> & { meter: string; sp: string; tx: string },
): string {
  return [
    o.substation ?? 'SUB-E',
    o.feeder ?? 'FDR-E1',
    o.tx,
    o.kva ?? '25',
    o.phase ?? 'A',
    o.sp,
    o.premise ?? `${o.sp} Main St`,
    o.account ?? `ACC-${o.sp}`,
    o.customerClass ?? 'RESIDENTIAL',
    o.tz ?? 'America/Chicago',
    o.meter,
    o.mrid ?? '',
    o.multiplier ?? '',
    o.interval ?? '900',
    o.channels ?? 'delivered',
    o.installed ?? '2022-01-01T00:00:00Z',
    o.removed ?? '',
    o.status ?? 'ACTIVE',
    o.comm ?? 'RF_MESH',
  ].join(',');
}

function fleetCsv(over: { kva?: string; status?: string } = {}): string {
  return (
    [
      CSV_HEADER,
      csvRow({ meter: 'E-1', sp: 'SPE-1', tx: 'TXE-1', kva: over.kva }),
      csvRow({
        meter: 'E-2',
        sp: 'SPE-2',
        tx: 'TXE-1',
        kva: over.kva,
        channels: 'delivered|received',
      }),
      csvRow({ meter: 'E-3', sp: 'SPE-3', tx: 'TXE-2', kva: '50', status: over.status }),
      csvRow({ meter: 'E-4', sp: 'SPE-4', tx: 'TXE-2', kva: '50', comm: 'plc' }),
    ].join('\n') + '\n'
  );
}

async function tableCounts(pool: ConnectionPool) {
  const [r] = await pool.query(sql`
    SELECT (SELECT count(*) FROM substation)::int AS substations,
           (SELECT count(*) FROM feeder)::int AS feeders,
           (SELECT count(*) FROM transformer)::int AS transformers,
           (SELECT count(*) FROM account)::int AS accounts,
           (SELECT count(*) FROM service_point)::int AS service_points,
           (SELECT count(*) FROM meter)::int AS meters`);
  return r as Record<string, number>;
}

test('migrate lists what it applied, then says the database is up to date', async () => {
  const first = await box.run('migrate');
  expect(first.code).toBe(0);
  expect(first.stdout).toMatch(/^applied 0001-topology\napplied 0002-readings\n/);
  const again = await box.run('migrate');
  expect(again.stdout).toMatch(/^the database is up to date \(\d+ migrations\)\n$/);
});

test('a JSON topology', async () => {
  const r = await box.run(
    'topology',
    'import',
    box.file('topo.json', JSON.stringify(smallTopology())),
  );
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(
    'imported topo.json: 1 substations, 1 feeders, 2 transformers, 2 accounts, 3 service points, 3 meters\n',
  );
});

test('a flat CSV topology: parents deduplicated', async () => {
  const r = await box.run('topology', 'import', box.file('fleet.csv', fleetCsv()));
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(
    'imported fleet.csv: 1 substations, 1 feeders, 2 transformers, 4 accounts, 4 service points, 4 meters\n',
  );
  await box.withDb(async (pool) => {
    expect(await tableCounts(pool)).toEqual({
      substations: 2,
      feeders: 2,
      transformers: 4,
      accounts: 6,
      service_points: 7,
      meters: 7,
    });
    const [m] = await pool.query(
      sql`SELECT channels, comm_path, multiplier, interval_seconds FROM meter WHERE serial = 'E-2'`,
    );
    expect(m).toMatchObject({
      channels: ['delivered', 'received'],
      comm_path: 'RF_MESH',
      multiplier: 1,
      interval_seconds: 900,
    });
  });
});

test('re-importing updates in place: a new kVA and a new status, no duplicates', async () => {
  const r = await box.run(
    'topology',
    'import',
    box.file('fleet-v2.csv', fleetCsv({ kva: '37.5', status: 'INACTIVE' })),
  );
  expect(r.code).toBe(0);
  await box.withDb(async (pool) => {
    expect((await tableCounts(pool)).meters).toBe(7);
    expect((await tableCounts(pool)).transformers).toBe(4);
    const [tx] = await pool.query(sql`SELECT rated_kva FROM transformer WHERE code = 'TXE-1'`);
    expect(tx.rated_kva).toBe(37.5);
    const [m] = await pool.query(sql`SELECT status FROM meter WHERE serial = 'E-3'`);
    expect(m.status).toBe('INACTIVE');
  });
  // and the JSON import again changes nothing either
  const json = await box.run(
    'topology',
    'import',
    box.file('topo.json', JSON.stringify(smallTopology())),
  );
  expect(json.code).toBe(0);
  await box.withDb(async (pool) => expect((await tableCounts(pool)).meters).toBe(7));
});

test('names: a CSV import (which has none) keeps the stored ones; a null name in JSON clears it', async () => {
  const names = async () =>
    box.withDb(async (pool) => {
      const [r] = await pool.query(sql`
        SELECT (SELECT name FROM substation WHERE code = 'SUB-E') AS substation,
               (SELECT name FROM feeder WHERE code = 'FDR-E1') AS feeder,
               (SELECT name FROM account WHERE code = 'ACC-SPE-1') AS account`);
      return r as Record<string, string | null>;
    });
  const doc = (name: string | null) => ({
    substations: [{ code: 'SUB-E', name }],
    feeders: [{ code: 'FDR-E1', substation: 'SUB-E', name }],
    transformers: [],
    accounts: [{ code: 'ACC-SPE-1', name, customerClass: 'RESIDENTIAL' }],
    servicePoints: [],
    meters: [],
  });
  expect(
    (await box.run('topology', 'import', box.file('named.json', JSON.stringify(doc('East'))))).code,
  ).toBe(0);
  expect(await names()).toEqual({ substation: 'East', feeder: 'East', account: 'East' });
  const csv = await box.run(
    'topology',
    'import',
    box.file('fleet-v3.csv', fleetCsv({ kva: '40' })),
  );
  expect(csv.code).toBe(0);
  expect(await names()).toEqual({ substation: 'East', feeder: 'East', account: 'East' });
  // The CSV did update what it carries.
  await box.withDb(async (pool) => {
    const [tx] = await pool.query(sql`SELECT rated_kva FROM transformer WHERE code = 'TXE-1'`);
    expect(tx.rated_kva).toBe(40);
  });
  expect(
    (await box.run('topology', 'import', box.file('unnamed.json', JSON.stringify(doc(null))))).code,
  ).toBe(0);
  expect(await names()).toEqual({ substation: null, feeder: null, account: null });
});

describe('invalid topologies are reported and write nothing', () => {
  let before: Record<string, number>;
  beforeAll(async () => {
    before = await box.withDb(tableCounts);
  });
  afterEach(async () => {
    expect(await box.withDb(tableCounts)).toEqual(before);
  });

  test('JSON: an unknown parent and a bad time zone, each with its path', async () => {
    const doc = smallTopology();
    doc.feeders.push({ code: 'FDR-X', substation: 'SUB-NOWHERE' });
    doc.servicePoints.push({
      code: 'SP-X',
      transformer: 'TX-1',
      premise: 'x',
      timeZone: 'Mars/Olympus_Mons',
    });
    doc.meters.push({
      serial: 'M-X',
      servicePoint: 'SP-X',
      installedAt: '2024-01-01T00:00:00Z',
      commPath: 'PLC',
    });
    const r = await box.run('topology', 'import', box.file('bad.json', JSON.stringify(doc)));
    expect(r.code).toBe(1);
    expect(r.error?.message).toMatch(/bad\.json has 2 problems; nothing was imported/);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(r.stderr).toMatch(/feeders\[1\]\.substation: UNKNOWN_TOPOLOGY_REFERENCE: .*SUB-NOWHERE/);
    expect(r.stderr).toMatch(/servicePoints\[3\]\.timeZone: BAD_TIME_ZONE: /);
  });

  test('CSV: a bad time zone and an unknown vocabulary, reported by line', async () => {
    const body =
      [
        CSV_HEADER,
        csvRow({ meter: 'N-1', sp: 'SPN-1', tx: 'TXN-1', feeder: 'FDR-N' }),
        csvRow({ meter: 'N-2', sp: 'SPN-2', tx: 'TXN-1', feeder: 'FDR-N', tz: 'Nowhere/City' }),
        csvRow({ meter: 'N-3', sp: 'SPN-3', tx: 'TXN-1', feeder: 'FDR-N', comm: 'PIGEON' }),
      ].join('\n') + '\n';
    const r = await box.run('topology', 'import', box.file('bad.csv', body));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/line 3 \(servicePoints\[1\]\.timeZone\): BAD_TIME_ZONE/);
    expect(r.stderr).toMatch(/line 4 \(meters\[2\]\.commPath\): /);
  });

  test('CSV: rows that disagree about a parent, a duplicate meter, a bad number', async () => {
    const body =
      [
        CSV_HEADER,
        csvRow({ meter: 'N-1', sp: 'SPN-1', tx: 'TXN-1', kva: '25' }),
        csvRow({ meter: 'N-2', sp: 'SPN-2', tx: 'TXN-1', kva: '50' }),
        csvRow({ meter: 'N-1', sp: 'SPN-3', tx: 'TXN-1', kva: '25' }),
        csvRow({ meter: 'N-4', sp: 'SPN-4', tx: 'TXN-1', kva: '25', multiplier: 'abc' }),
        csvRow({ meter: 'N-5', sp: 'SPN-5', tx: 'TXN-1', channels: 'delivered|net' }),
      ].join('\n') + '\n';
    const r = await box.run('topology', 'import', box.file('conflict.csv', body));
    expect(r.code).toBe(1);
    expect(r.error?.code).toBe('BAD_USER_INPUT');
    expect(r.stderr).toMatch(
      /line 3, column transformer_kva: transformer TXN-1 has transformer_kva 50 here but 25 at line 2/,
    );
    expect(r.stderr).toMatch(/line 4, column meter_serial: meter N-1 is already defined at line 2/);
    expect(r.stderr).toMatch(/line 5, column multiplier: "abc" is not a positive number/);
    expect(r.stderr).toMatch(/line 6, column channels: /);
  });

  test('CSV: a missing column', async () => {
    const body = CSV_HEADER.replace(',time_zone', '') + '\n';
    const r = await box.run('topology', 'import', box.file('nocol.csv', body));
    expect(r.code).toBe(1);
    expect(r.error?.code).toBe('MISSING_COLUMN');
    expect(r.error?.message).toMatch(/time_zone/);
  });

  test('JSON that does not parse, with its line', async () => {
    const r = await box.run(
      'topology',
      'import',
      box.file('broken.json', '{\n  "substations": [\n  }'),
    );
    expect(r.code).toBe(1);
    expect(r.error?.code).toBe('MALFORMED_FILE');
    expect(r.error?.message).toMatch(/line 3/);
  });

  test('an extension that says nothing', async () => {
    const r = await box.run('topology', 'import', box.file('topo.txt', '{}'));
    expect(r.error?.code).toBe('BAD_USER_INPUT');
    expect(r.error?.message).toMatch(/\.json .* \.csv/);
  });
});
