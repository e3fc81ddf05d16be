/**
 * `meterdata ingest` and `meterdata readings` end to end, in-process: the landing (duplicates
 * by content, structural errors registered as failed with nothing staged), `--wait` with exact
 * counts and row-level rejections, queued files picked up later, CMEP, ESPI and CSV profiles.
 */
import { sql, type ConnectionPool } from '@databases/pg';
import { cliSandbox, type CliSandbox } from './harness';
import { smallTopology } from '../helpers/fixtures';

let box: CliSandbox;

const HEADER = 'meter_serial,channel,interval_start,interval_seconds,value,unit';

/** n consecutive 15-minute rows of one meter from `startIso`. */
function rows(serial: string, startIso: string, n: number, value: (i: number) => string): string[] {
  const t0 = Date.parse(startIso);
  return Array.from(
    { length: n },
    (_, i) =>
      `${serial},delivered,${new Date(t0 + i * 900_000).toISOString().replace('.000Z', 'Z')},900,${value(i)},kWh`,
  );
}

const csv = (lines: string[]) => [HEADER, ...lines].join('\n') + '\n';

async function count(table: 'ingest_batch' | 'ingest_file' | 'ingest_chunk'): Promise<number> {
  return box.withDb(async (pool) => countIn(pool, table));
}

async function countIn(pool: ConnectionPool, table: string): Promise<number> {
  const [r] = await pool.query(sql`SELECT count(*)::int AS n FROM ${sql.ident(table)}`);
  return Number(r.n);
}

interface FileRow {
  id: number;
  status: string;
  error_code: string | null;
  chunks: number;
}

async function fileRowIn(pool: ConnectionPool, fileName: string): Promise<FileRow> {
  const found = await pool.query(sql`
    SELECT f.id, f.status, f.error_code,
           (SELECT count(*)::int FROM ingest_chunk c WHERE c.file_id = f.id) AS chunks
    FROM ingest_file f WHERE f.file_name = ${fileName}`);
  expect(found).toHaveLength(1);
  return { ...found[0], id: Number(found[0].id) };
}

async function fileRow(fileName: string): Promise<FileRow> {
  return box.withDb((pool) => fileRowIn(pool, fileName));
}

/** The stored intervals of a meter as `start,end,value,quality` lines (`readings` output). */
async function stored(serial: string, from: string, to: string): Promise<string[]> {
  const r = await box.run('readings', serial, '--from', from, '--to', to);
  expect(r.code).toBe(0);
  return r.stdout.trim().split('\n').slice(1);
}

beforeAll(async () => {
  box = await cliSandbox();
  const topo = box.file('topology.json', JSON.stringify(smallTopology()));
  const r = await box.run('topology', 'import', topo);
  expect(r.code).toBe(0);
});
afterAll(async () => box.cleanup());

describe('ingest --wait', () => {
  const day1Lines = [
    ...rows('M-1', '2025-03-01T00:00:00Z', 96, (i) => (0.25 + i / 1000).toFixed(3)),
    ...rows('M-2', '2025-03-01T00:00:00Z', 8, () => '1.5'),
  ];
  const day1 = csv(day1Lines);

  test('a clean file: exact counts and a one-line summary', async () => {
    const file = box.file('day1.csv', day1);
    const r = await box.run('ingest', '--wait', file);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(
      /^ingested day1\.csv: 104 accepted, 0 unchanged, 0 changed, 0 rejected \(file \d+\) in \d+\.\d s, [\d,]+ readings\/s\n$/,
    );
    expect((await fileRow('day1.csv')).status).toBe('done');
  });

  test('the same content again is a duplicate: nothing changes', async () => {
    const original = await fileRow('day1.csv');
    const before = { files: await count('ingest_file'), batches: await count('ingest_batch') };
    const r = await box.run('ingest', box.file('day1-copy.csv', day1));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `day1-copy.csv was already received as file ${original.id} (status done): nothing changed\n`,
    );
    const j = await box.run('ingest', '--wait', '--json', box.file('day1-copy2.csv', day1));
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({
      fileId: original.id,
      status: 'done',
      duplicate: true,
      // the original's counts
      accepted: 104,
      unchanged: 0,
      changed: 0,
      rejected: 0,
    });
    const text = await box.run('ingest', '--wait', box.file('day1-copy3.csv', day1));
    expect(text.stdout).toMatch(
      /was already received as file \d+ \(status done\): nothing changed; its counts: 104 accepted, 0 unchanged, 0 changed, 0 rejected\n$/,
    );
    expect(await count('ingest_file')).toBe(before.files);
    expect(await count('ingest_batch')).toBe(before.batches);
  });

  test('the same readings in different bytes change nothing (CRLF)', async () => {
    const crlf = day1.replace(/\n/g, '\r\n');
    const r = await box.run('ingest', '--wait', '--json', box.file('day1-crlf.csv', crlf));
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ duplicate: false, accepted: 0, unchanged: 104, changed: 0 });
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });

  test('one changed value is one change', async () => {
    const lines = rows('M-1', '2025-03-01T00:00:00Z', 96, (i) => (0.25 + i / 1000).toFixed(3));
    lines[10] = lines[10]!.replace(/,0\.260,/, ',0.999,');
    const r = await box.run('ingest', '--wait', '--json', box.file('changed.csv', csv(lines)));
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 0, unchanged: 95, changed: 1 });
  });

  test('--json: one line with the file, its id and the counts', async () => {
    const file = box.file('shape.csv', csv(rows('M-2', '2025-03-07T00:00:00Z', 3, () => '2')));
    const r = await box.run('ingest', '--wait', '--json', file);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(
      [
        'file',
        'fileId',
        'status',
        'duplicate',
        'accepted',
        'unchanged',
        'changed',
        'rejected',
        'seconds',
        'readingsPerSecond',
        'rejections',
      ].sort(),
    );
    expect(out).toMatchObject({
      file,
      fileId: (await fileRow('shape.csv')).id,
      status: 'done',
      duplicate: false,
      accepted: 3,
      rejections: [],
    });
    expect(typeof out.seconds).toBe('number');
    expect(out.readingsPerSecond).toBeGreaterThan(0);
  });

  test('columns in any order, extra columns ignored, CRLF and a UTF-8 BOM', async () => {
    const body =
      '\uFEFFunit,value,note,interval_seconds,interval_start,channel,meter_serial\r\n' +
      'kWh,0.5,"a ""quoted"", note",900,2025-03-05T00:00:00Z,delivered,M-2\r\n' +
      'Wh,750,,900,2025-03-05T00:15:00Z,delivered,M-2\r\n';
    const r = await box.run('ingest', '--wait', '--json', box.file('bom.csv', body));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 2, rejected: 0 });
    expect(await stored('M-2', '2025-03-05T00:00:00Z', '2025-03-05T00:30:00Z')).toContain(
      '2025-03-05T00:15:00Z,2025-03-05T00:30:00Z,0.75,valid',
    );
  });

  test('bad rows are rejected with their line and code, the rest is kept', async () => {
    const good = (start: string, v = '1') => `M-2,delivered,${start},900,${v},kWh`;
    const lines = [
      good('2025-03-02T00:00:00Z'), // line 2
      good('2025-03-02T00:15:00Z', 'NaN'), // 3
      good('2025-03-02T00:30:00Z', 'Infinity'), // 4
      good('2025-03-02T00:45:00Z', '1e309'), // 5
      good('2025-03-02T01:00:00Z', '"1,5"'), // 6
      'M-404,delivered,2025-03-02T01:15:00Z,900,1,kWh', // 7
      good('1970-01-01T00:00:00Z'), // 8
      good('9999-12-31T00:00:00Z'), // 9
      good('2025-03-02T01:37:00Z'), // 10
      good('2025-03-02T01:45:00'), // 11: local time without an offset
      'M-2,delivered,2025-03-02T02:00:00Z,900,1,kW', // 12
      'M-2,delivered,2025-03-02T02:15:00Z,900,1', // 13: a field short
      good('2025-03-02T02:30:00Z'), // 14
      '', // 15: blank lines are skipped
      good('2025-03-02T02:45:00Z', '-0.5'), // 16 (negative: a VEE matter, stored)
    ];
    const r = await box.run('ingest', '--wait', '--json', box.file('bad-rows.csv', csv(lines)));
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ accepted: 3, unchanged: 0, changed: 0, rejected: 11 });
    const byLine = Object.fromEntries(
      out.rejections.map((x: { line: number; code: string }) => [x.line, x.code]),
    );
    expect(byLine).toEqual({
      3: 'BAD_VALUE',
      4: 'BAD_VALUE',
      5: 'BAD_VALUE',
      6: 'BAD_VALUE',
      7: 'UNKNOWN_METER',
      8: 'BAD_TIMESTAMP',
      9: 'FUTURE_TIMESTAMP',
      10: 'MISALIGNED_INTERVAL',
      11: 'BAD_TIMESTAMP',
      12: 'BAD_UNIT',
      13: 'BAD_VALUE',
    });
    // stderr lists them in line order, one per line
    const listed = r.stderr.trim().split('\n');
    expect(listed).toHaveLength(11);
    expect(listed[0]).toMatch(/^line 3: BAD_VALUE: .*NaN/);
    expect(listed[10]).toMatch(/^line 13: BAD_VALUE: line has 5 fields where the header has 6/);
    // the human summary counts the same (different bytes: a trailing blank line)
    const again = await box.run('ingest', '--wait', box.file('bad-rows-2.csv', csv(lines) + '\n'));
    expect(again.stdout).toMatch(/0 accepted, 3 unchanged, 0 changed, 11 rejected/);
  });

  test('on a terminal, progress bars on stderr; the summary still alone on stdout', async () => {
    const lines = rows('M-2', '2025-03-06T00:00:00Z', 50, () => '1');
    const r = await box.runTty('ingest', '--wait', box.file('tty.csv', csv(lines)));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/land +\|/);
    expect(r.stderr).toMatch(/ingest \|.*chunks/);
    expect(r.stdout).toMatch(/^ingested tty\.csv: 50 accepted, .*\n$/);
  });

  test('more than 20 rejections: the first 20 are listed, then a count', async () => {
    const lines = Array.from(
      { length: 25 },
      (_, i) => `M-404,delivered,2025-03-02T00:00:00Z,900,${i},kWh`,
    );
    const r = await box.run('ingest', '--wait', box.file('many-bad.csv', csv(lines)));
    expect(r.code).toBe(0);
    const listed = r.stderr.trim().split('\n');
    expect(listed).toHaveLength(21);
    expect(listed[19]).toMatch(/^line 21: UNKNOWN_METER/);
    expect(listed[20]).toMatch(/5 more rejected rows/);
  });
});

describe('ingest without --wait', () => {
  test('lands and queues the file; the next --wait run processes it too', async () => {
    const queued = csv(rows('M-1', '2025-03-20T00:00:00Z', 8, () => '0.5'));
    const r = await box.run('ingest', box.file('queued.csv', queued));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const row = await fileRow('queued.csv');
    expect(r.stdout).toBe(
      `landed queued.csv as file ${row.id}: structure checked, 1 chunk to parse; queued for the workers\n`,
    );
    expect(row.status).toBe('received');
    expect(row.chunks).toBe(1);
    expect(await stored('M-1', '2025-03-20T00:00:00Z', '2025-03-20T00:15:00Z')).toEqual([
      '2025-03-20T00:00:00Z,2025-03-20T00:15:00Z,,missing',
    ]);

    // the in-process worker of --wait takes whatever is queued, this file's chunks included
    const next = csv(rows('M-2', '2025-03-20T00:00:00Z', 4, () => '0.5'));
    const w = await box.run('ingest', '--wait', '--json', box.file('next.csv', next));
    expect(JSON.parse(w.stdout)).toMatchObject({ accepted: 4 });
    expect((await fileRow('queued.csv')).status).toBe('done');
    expect(await stored('M-1', '2025-03-20T00:00:00Z', '2025-03-20T00:15:00Z')).toEqual([
      '2025-03-20T00:00:00Z,2025-03-20T00:15:00Z,0.5,valid',
    ]);
  });

  test('--json: the landing result (a line format is counted by the workers)', async () => {
    const body = csv([
      ...rows('M-2', '2025-03-21T00:00:00Z', 2, () => '1'),
      'M-2,delivered,2025-03-21T00:30:00Z,900,1', // a field short: rejected while parsing
    ]);
    const r = await box.run('ingest', '--json', '--source', 'hes-east', box.file('land.csv', body));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      fileId: (await fileRow('land.csv')).id,
      status: 'received',
      duplicate: false,
      items: null,
      chunks: 1,
      parseRejected: 0,
    });
    const [meta] = await box.withDb((pool) =>
      pool.query(sql`SELECT source, format FROM ingest_file WHERE file_name = 'land.csv'`),
    );
    expect(meta).toEqual({ source: 'hes-east', format: 'csv' });
    // process it, so later tests start from an empty queue
    const flush = csv(rows('M-2', '2025-03-22T00:00:00Z', 1, () => '1'));
    await box.run('ingest', '--wait', box.file('land-flush.csv', flush));
    const [done] = await box.withDb((pool) =>
      pool.query(
        sql`SELECT status, items_total::int AS items, accepted::int AS accepted, rejected::int AS rejected FROM ingest_file WHERE file_name = 'land.csv'`,
      ),
    );
    expect(done).toEqual({ status: 'done', items: 2, accepted: 2, rejected: 1 });
  });
});

describe('other formats and profiles', () => {
  test('CMEP (--format cmep): interval-end date-times in UTC, protocol codes', async () => {
    const line =
      'MEPMD01,19970819,SENDER,SC1,RECV,RC1,202507010805,M-1,OK,E,KWH,1,00000015,4,' +
      '202507010015,R0,0.25,,R0,0.5,,E,0.75,,M,1.0';
    const r = await box.run(
      'ingest',
      '--format',
      'cmep',
      '--wait',
      '--json',
      box.file('day.cmep', line + '\n'),
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 4, rejected: 0 });
    expect(await stored('M-1', '2025-07-01T00:00:00Z', '2025-07-01T01:00:00Z')).toEqual([
      '2025-07-01T00:00:00Z,2025-07-01T00:15:00Z,0.25,valid',
      '2025-07-01T00:15:00Z,2025-07-01T00:30:00Z,0.5,valid',
      '2025-07-01T00:30:00Z,2025-07-01T00:45:00Z,0.75,estimated_history',
      '2025-07-01T00:45:00Z,2025-07-01T01:00:00Z,1,manually_edited',
    ]);
  });

  test('ESPI (--format espi --meter M-1): a Green Button feed', async () => {
    const start = Date.parse('2025-07-02T00:00:00Z') / 1000;
    const reading = (i: number, wh: number) =>
      `<IntervalReading><timePeriod><duration>900</duration><start>${start + i * 900}</start></timePeriod><value>${wh}</value></IntervalReading>`;
    const feed = `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <entry>
    <link rel="self" href="/espi/1_1/resource/RetailCustomer/1/UsagePoint/1"/>
    <title>Front Electric Meter</title>
    <content><UsagePoint xmlns="http://naesb.org/espi"><ServiceCategory><kind>0</kind></ServiceCategory></UsagePoint></content>
  </entry>
  <entry>
    <link rel="self" href="/espi/1_1/resource/RetailCustomer/1/UsagePoint/1/MeterReading/1"/>
    <link rel="related" href="/espi/1_1/resource/ReadingType/7"/>
    <content><MeterReading xmlns="http://naesb.org/espi"/></content>
  </entry>
  <entry>
    <link rel="self" href="/espi/1_1/resource/ReadingType/7"/>
    <content>
      <ReadingType xmlns="http://naesb.org/espi">
        <accumulationBehaviour>4</accumulationBehaviour>
        <commodity>1</commodity>
        <flowDirection>1</flowDirection>
        <intervalLength>900</intervalLength>
        <powerOfTenMultiplier>0</powerOfTenMultiplier>
        <uom>72</uom>
      </ReadingType>
    </content>
  </entry>
  <entry>
    <link rel="self" href="/espi/1_1/resource/RetailCustomer/1/UsagePoint/1/MeterReading/1/IntervalBlock/1"/>
    <content>
      <IntervalBlock xmlns="http://naesb.org/espi">
        <interval><duration>1800</duration><start>${start}</start></interval>
        ${reading(0, 250)}
        ${reading(1, 500)}
      </IntervalBlock>
    </content>
  </entry>
</feed>
`;
    const r = await box.run(
      'ingest',
      '--format',
      'espi',
      '--meter',
      'M-1',
      '--wait',
      '--json',
      box.file('greenbutton.xml', feed),
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 2, rejected: 0 });
    expect(await stored('M-1', '2025-07-02T00:00:00Z', '2025-07-02T00:30:00Z')).toEqual([
      '2025-07-02T00:00:00Z,2025-07-02T00:15:00Z,0.25,valid',
      '2025-07-02T00:15:00Z,2025-07-02T00:30:00Z,0.5,valid',
    ]);
  });

  test('--profile FILE: a semicolon export in local time, with --meter for the serial', async () => {
    const profile = box.file(
      'portal.profile.json',
      JSON.stringify({
        delimiter: ';',
        decimalSeparator: ',',
        columns: {
          date: 'Datum',
          time: 'Uhrzeit',
          value: 'Verbrauch',
          channel: { constant: 'delivered' },
          unit: { constant: 'kWh' },
          intervalSeconds: { constant: 900 },
        },
        timestampFormat: 'dd.MM.yyyy HH:mm',
        timestampConvention: 'interval_end',
        timeZone: 'Europe/Berlin',
      }),
    );
    const body = 'Datum;Uhrzeit;Verbrauch\n01.07.2025;00:15;0,5\n01.07.2025;00:30;0,25\n';
    const r = await box.run(
      'ingest',
      '--profile',
      profile,
      '--meter',
      'M-2',
      '--wait',
      '--json',
      box.file('portal.csv', body),
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 2, rejected: 0 });
    // 00:15 Berlin summer time is 22:15 UTC the day before: the end of the first interval
    expect(await stored('M-2', '2025-06-30T22:00:00Z', '2025-06-30T22:30:00Z')).toEqual([
      '2025-06-30T22:00:00Z,2025-06-30T22:15:00Z,0.5,valid',
      '2025-06-30T22:15:00Z,2025-06-30T22:30:00Z,0.25,valid',
    ]);
  });

  test('an invalid or unknown profile, an unknown format, a profile for CMEP', async () => {
    const bad = box.file('bad.profile.json', JSON.stringify({ columns: {}, delimiter: 'x' }));
    const data = box.file('p.csv', csv([]));
    const invalid = await box.run('ingest', '--profile', bad, data);
    expect(invalid.code).toBe(1);
    expect(invalid.error?.message).toMatch(/^BAD_USER_INPUT: invalid CSV profile .*delimiter/);
    const unknown = await box.run('ingest', '--profile', 'no-such-profile', data);
    expect(unknown.error?.message).toMatch(
      /^BAD_USER_INPUT: unknown CSV profile "no-such-profile"/,
    );
    const missing = await box.run('ingest', '--profile', './nope.json', data);
    expect(missing.error?.message).toMatch(/neither a built-in profile .* nor a readable file/);
    const format = await box.run('ingest', '--format', 'xlsx', data);
    expect(format.code).toBe(1);
    expect(format.error?.code).toBe('UNKNOWN_FORMAT');
    const cmep = await box.run('ingest', '--format', 'cmep', '--profile', 'meterdata', data);
    expect(cmep.error?.message).toMatch(/^BAD_USER_INPUT: a CSV profile does not apply to cmep/);
  });

  test('--meter mistakes fail before landing: the corrected command is not a duplicate', async () => {
    const body = csv(rows('M-2', '2025-07-03T00:00:00Z', 2, () => '1'));
    const file = box.file('meter-option.csv', body);
    const r = await box.run('ingest', '--meter', 'M-2', '--wait', file);
    expect(r.code).toBe(1);
    expect(r.error?.message).toMatch(
      /^BAD_USER_INPUT: profile meterdata reads the meter from the file; --meter is only/,
    );
    const cmep = await box.run('ingest', '--format', 'cmep', '--meter', 'M-2', file);
    expect(cmep.error?.message).toMatch(/^BAD_USER_INPUT: --meter does not apply to CMEP/);
    const files = await box.withDb((pool) =>
      pool.query(sql`SELECT id FROM ingest_file WHERE file_name = 'meter-option.csv'`),
    );
    expect(files).toHaveLength(0);
    const ok = await box.run('ingest', '--wait', '--json', file);
    expect(JSON.parse(ok.stdout)).toMatchObject({ duplicate: false, accepted: 2 });
  });
});

describe('structural errors: the file is registered as failed, nothing of it is kept', () => {
  const fine = rows('M-1', '2025-04-01T00:00:00Z', 4, () => '2');

  async function expectRejected(
    name: string,
    body: string | Buffer,
    code: string,
    message: RegExp,
    args: string[] = [],
  ): Promise<void> {
    const counts = (pool: ConnectionPool) =>
      Promise.all([countIn(pool, 'ingest_batch'), countIn(pool, 'ingest_chunk')]);
    const before = await box.withDb(counts);
    const r = await box.run('ingest', '--wait', ...args, box.file(name, body));
    expect(r.code).toBe(1);
    expect(r.error?.code).toBe(code);
    expect(r.error?.message).toMatch(new RegExp(`^${code}: `));
    expect(r.error?.message).toMatch(message);
    expect(r.stdout).toBe('');
    const [after, row] = await box.withDb(async (pool) => [
      await counts(pool),
      await fileRowIn(pool, name),
    ]);
    expect(after).toEqual(before);
    expect(row).toMatchObject({ status: 'failed', error_code: code, chunks: 0 });
  }

  test('a missing column', async () => {
    const body = [
      'meter_serial,channel,interval_start,value,unit',
      'M-1,delivered,2025-04-01T00:00:00Z,2,kWh',
    ].join('\n');
    await expectRejected('missing-col.csv', body, 'MISSING_COLUMN', /interval_seconds/);
  });

  test('an empty file', async () => {
    await expectRejected('empty.csv', '', 'MALFORMED_FILE', /no header line \(it is empty\)/);
  });

  test('invalid UTF-8 after good rows, with line and byte offset', async () => {
    const head = csv(fine);
    const body = Buffer.concat([
      Buffer.from(head),
      Buffer.from('M-1,delivered,2025-04-01T01:00:00Z,900,'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(',kWh\n'),
    ]);
    const offset = Buffer.byteLength(head) + 'M-1,delivered,2025-04-01T01:00:00Z,900,'.length;
    await expectRejected(
      'bad-utf8.csv',
      body,
      'MALFORMED_FILE',
      new RegExp(`line 6, byte offset ${offset}`),
    );
  });

  test('a file cut inside a multi-byte character', async () => {
    const body = Buffer.concat([
      Buffer.from(csv(fine) + 'M-1,delivered,x,900,1,kWh '),
      Buffer.from([0xe2, 0x82]),
    ]);
    await expectRejected(
      'cut-utf8.csv',
      body,
      'MALFORMED_FILE',
      /not valid UTF-8: .*line 6, byte offset \d+ .*truncated/,
    );
  });

  test('a line longer than the record limit, without a newline', async () => {
    const body = csv(fine) + 'M-1,delivered,' + 'x'.repeat(1 << 20);
    await expectRejected(
      'giant.csv',
      body,
      'MALFORMED_FILE',
      /line 6 is longer than 1,048,576 bytes/,
    );
  });

  test('a truncated quoted field', async () => {
    const body = csv(fine) + 'M-1,delivered,2025-04-01T01:00:00Z,900,"1.5,kWh\n';
    await expectRejected(
      'truncated.csv',
      body,
      'MALFORMED_FILE',
      /ends inside a quoted field opened at line 6/,
    );
  });

  test('a stray quote inside a field', async () => {
    const body = csv(fine) + 'M-1,deliv"ered,2025-04-01T01:00:00Z,900,1.5,kWh\n';
    await expectRejected(
      'stray-quote.csv',
      body,
      'MALFORMED_FILE',
      /a quote inside an unquoted field .*at line 6, byte offset \d+/,
    );
  });

  test('ESPI with a DTD, and a truncated feed', async () => {
    const dtd =
      '<?xml version="1.0"?>\n<!DOCTYPE feed [<!ENTITY a "aaaa">]>\n<feed xmlns="http://www.w3.org/2005/Atom"></feed>\n';
    await expectRejected('dtd.xml', dtd, 'MALFORMED_FILE', /has a DTD .*\(line 2\)/, [
      '--format',
      'espi',
      '--meter',
      'M-1',
    ]);
    const cut = '<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><entry>';
    await expectRejected('cut.xml', cut, 'MALFORMED_FILE', /ends inside <entry> \(truncated/, [
      '--format',
      'espi',
      '--meter',
      'M-1',
    ]);
  });

  test('the same broken content again is checked again (a failed file is no duplicate)', async () => {
    const body = csv(fine) + 'M-1,deliv"ered,2025-04-01T01:00:00Z,900,1.5,kWh\n';
    const first = await fileRow('stray-quote.csv');
    const r = await box.run('ingest', box.file('stray-quote-again.csv', body));
    expect(r.code).toBe(1);
    expect(r.error?.code).toBe('MALFORMED_FILE');
    expect(r.error?.message).toMatch(/line 6/);
    const again = await fileRow('stray-quote-again.csv');
    expect(again.id).not.toBe(first.id);
    expect(again.status).toBe('failed');
  });

  test('a file that does not exist', async () => {
    const r = await box.run('ingest', `${box.dir}/nope.csv`);
    expect(r.code).toBe(1);
    expect(r.error?.code).toBe('NOT_FOUND');
  });

  test('after all that, no reading was stored, and the next batch is the only new one', async () => {
    const values = await stored('M-1', '2025-04-01T00:00:00Z', '2025-04-01T02:00:00Z');
    expect(values).toHaveLength(8);
    for (const v of values) expect(v).toMatch(/,,missing$/);
    const before = await count('ingest_batch');
    const r = await box.run('ingest', '--wait', '--json', box.file('after.csv', csv(fine)));
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 4 });
    expect(await count('ingest_batch')).toBe(before + 1);
  });
});

describe('readings', () => {
  beforeAll(async () => {
    const lines = rows('M-1', '2025-05-01T00:00:00Z', 4, (i) => String(i + 1));
    lines.splice(2, 1); // 00:30 is missing
    const r = await box.run('ingest', '--wait', box.file('may.csv', csv(lines)));
    expect(r.code).toBe(0);
  });

  test('csv, a missing interval shown empty', async () => {
    const r = await box.run(
      'readings',
      'M-1',
      '--from',
      '2025-05-01T00:00:00Z',
      '--to',
      '2025-05-01T01:00:00Z',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'interval_start,interval_end,value_kwh,quality',
        '2025-05-01T00:00:00Z,2025-05-01T00:15:00Z,1,valid',
        '2025-05-01T00:15:00Z,2025-05-01T00:30:00Z,2,valid',
        '2025-05-01T00:30:00Z,2025-05-01T00:45:00Z,,missing',
        '2025-05-01T00:45:00Z,2025-05-01T01:00:00Z,4,valid',
        '',
      ].join('\n'),
    );
  });

  test('json, with an offset in the range', async () => {
    const r = await box.run(
      'readings',
      'M-1',
      '--from',
      '2025-04-30T21:00:00-03:00',
      '--to',
      '2025-04-30T21:30:00-03:00',
      '--format',
      'json',
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      meter: 'M-1',
      channel: 'delivered',
      intervalSeconds: 900,
      from: '2025-05-01T00:00:00Z',
      to: '2025-05-01T00:30:00Z',
      intervals: [
        {
          start: '2025-05-01T00:00:00Z',
          end: '2025-05-01T00:15:00Z',
          valueKwh: 1,
          quality: 'valid',
        },
        {
          start: '2025-05-01T00:15:00Z',
          end: '2025-05-01T00:30:00Z',
          valueKwh: 2,
          quality: 'valid',
        },
      ],
    });
  });

  test('the received channel of a meter that has one', async () => {
    const r = await box.run(
      'readings',
      'M-1',
      '--from',
      '2025-05-01',
      '--to',
      '2025-05-01T00:15:00Z',
      '--channel',
      'received',
    );
    expect(r.stdout).toContain('2025-05-01T00:00:00Z,2025-05-01T00:15:00Z,,missing');
  });

  test('an unknown meter', async () => {
    const r = await box.run('readings', 'NOPE', '--from', '2025-05-01', '--to', '2025-05-02');
    expect(r.code).toBe(1);
    expect(r.error?.code).toBe('UNKNOWN_METER');
    expect(r.error?.message).toBe('UNKNOWN_METER: no meter with serial NOPE');
  });

  test('from not before to', async () => {
    const r = await box.run('readings', 'M-1', '--from', '2025-05-02', '--to', '2025-05-01');
    expect(r.code).toBe(1);
    expect(r.error?.code).toBe('INVALID_RANGE');
    const same = await box.run('readings', 'M-1', '--from', '2025-05-01', '--to', '2025-05-01');
    expect(same.error?.code).toBe('INVALID_RANGE');
  });

  test('a channel the meter lacks, and a time without an offset', async () => {
    const ch = await box.run(
      'readings',
      'M-2',
      '--from',
      '2025-05-01',
      '--to',
      '2025-05-02',
      '--channel',
      'received',
    );
    expect(ch.error?.code).toBe('UNKNOWN_CHANNEL');
    const local = await box.run(
      'readings',
      'M-1',
      '--from',
      '2025-05-01T00:00',
      '--to',
      '2025-05-02',
    );
    expect(local.error?.code).toBe('BAD_TIMESTAMP');
  });
});

describe('usage errors', () => {
  test('an unknown option exits 2 without touching the database', async () => {
    const r = await box.run('ingest', '--nope', 'x.csv');
    expect(r.code).toBe(2);
    expect(r.error?.message).toMatch(/unknown option '--nope'/);
  });

  test('a --comm-path outside the list exits 2', async () => {
    const r = await box.run('ingest', '--comm-path', 'CARRIER_PIGEON', 'x.csv');
    expect(r.code).toBe(2);
    expect(r.error?.message).toMatch(/RF_MESH, PLC, CELLULAR/);
  });

  test('--help prints usage and says who processes queued files', async () => {
    const r = await box.run('ingest', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: meterdata ingest/);
    expect(r.stdout).toMatch(/--wait/);
    expect(r.stdout).toMatch(/meterdata serve.*\n?.*meterdata worker/);
  });
});

test('no command: the help on stderr, exit 2', async () => {
  const r = await box.run();
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/Usage: meterdata/);
  expect(r.stderr).toMatch(/ingest/);
});

describe('simulate --ingest', () => {
  test('goes through the same write path: topology, one batch, readings readable', async () => {
    // simulate prints its summary on process.stdout itself
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let r;
    try {
      r = await box.run(
        'simulate',
        '--meters',
        '3',
        '--days',
        '2',
        '--seed',
        '5',
        '--start',
        '2025-06-01',
        '--ingest',
      );
    } finally {
      write.mockRestore();
    }
    expect(r.code).toBe(0);
    const out = await box.run(
      'readings',
      'MD00000001',
      '--from',
      '2025-06-01T00:00:00Z',
      '--to',
      '2025-06-03T00:00:00Z',
      '--format',
      'json',
    );
    expect(out.code).toBe(0);
    const series = JSON.parse(out.stdout) as { intervals: Array<{ valueKwh: number | null }> };
    expect(series.intervals).toHaveLength(192);
    expect(series.intervals.filter((i) => i.valueKwh !== null).length).toBeGreaterThan(150);
    const batches = await box.withDb(async (pool) =>
      pool.query(
        sql`SELECT source, format, accepted, finished_at FROM ingest_batch WHERE source = 'simulate'`,
      ),
    );
    expect(batches).toHaveLength(1);
    expect(batches[0].accepted).toBeGreaterThan(500);
    expect(batches[0].finished_at).not.toBeNull();
  });
});
