/**
 * `meterdata ingest` and `meterdata readings` end to end, in-process: exact counts, idempotent
 * re-ingest, row-level rejections by line and code, and structural errors that write nothing.
 */
import { sql } from '@databases/pg';
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

async function batchCount(): Promise<number> {
  return box.withDb(async (pool) => {
    const [r] = await pool.query(sql`SELECT count(*)::int AS n FROM ingest_batch`);
    return Number(r.n);
  });
}

beforeAll(async () => {
  box = await cliSandbox();
  const topo = box.file('topology.json', JSON.stringify(smallTopology()));
  const r = await box.run('topology', 'import', topo);
  expect(r.code).toBe(0);
});
afterAll(async () => box.cleanup());

describe('ingest', () => {
  const day1 = csv([
    ...rows('M-1', '2025-03-01T00:00:00Z', 96, (i) => (0.25 + i / 1000).toFixed(3)),
    ...rows('M-2', '2025-03-01T00:00:00Z', 8, () => '1.5'),
  ]);

  test('a clean file: exact counts and a one-line summary', async () => {
    const file = box.file('day1.csv', day1);
    const r = await box.run('ingest', file);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(
      /^ingested day1\.csv: 104 accepted, 0 unchanged, 0 changed, 0 rejected \(batch \d+\) in \d+\.\d s, [\d,]+ readings\/s\n$/,
    );
  });

  test('the same file again changes nothing (--json)', async () => {
    const file = box.file('day1-again.csv', day1);
    const r = await box.run('ingest', '--json', file);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ accepted: 0, unchanged: 104, changed: 0, rejected: 0 });
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });

  test('one changed value is one change', async () => {
    const lines = rows('M-1', '2025-03-01T00:00:00Z', 96, (i) => (0.25 + i / 1000).toFixed(3));
    lines[10] = lines[10]!.replace(/,0\.260,/, ',0.999,');
    const r = await box.run('ingest', '--json', box.file('changed.csv', csv(lines)));
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 0, unchanged: 95, changed: 1 });
  });

  test('columns in any order, extra columns ignored, CRLF and a UTF-8 BOM', async () => {
    const body =
      '\uFEFFunit,value,note,interval_seconds,interval_start,channel,meter_serial\r\n' +
      'kWh,0.5,"a ""quoted"", note",900,2025-03-05T00:00:00Z,delivered,M-2\r\n' +
      'Wh,750,,900,2025-03-05T00:15:00Z,delivered,M-2\r\n';
    const r = await box.run('ingest', '--json', box.file('bom.csv', body));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 2, rejected: 0 });
    const out = await box.run(
      'readings',
      'M-2',
      '--from',
      '2025-03-05T00:00:00Z',
      '--to',
      '2025-03-05T00:30:00Z',
    );
    expect(out.stdout).toContain('2025-03-05T00:15:00Z,2025-03-05T00:30:00Z,0.75,valid');
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
    const r = await box.run('ingest', '--json', box.file('bad-rows.csv', csv(lines)));
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
      13: 'BAD_USER_INPUT',
    });
    // stderr lists them in line order, one per line
    const listed = r.stderr.trim().split('\n');
    expect(listed).toHaveLength(11);
    expect(listed[0]).toMatch(/^line 3: BAD_VALUE: value "NaN"/);
    expect(listed[10]).toMatch(/^line 13: BAD_USER_INPUT: /);
    // the human summary counts the same
    const again = await box.run('ingest', box.file('bad-rows-2.csv', csv(lines)));
    expect(again.stdout).toMatch(/0 accepted, 3 unchanged, 0 changed, 11 rejected/);
  });

  test('on a terminal, a progress bar on stderr; the summary still alone on stdout', async () => {
    const lines = rows('M-2', '2025-03-06T00:00:00Z', 50, () => '1');
    const r = await box.runTty('ingest', box.file('tty.csv', csv(lines)));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/ingest \|/);
    expect(r.stdout).toMatch(/^ingested tty\.csv: 50 accepted, .*\n$/);
  });

  test('more than 20 rejections: the first 20 are listed, then a count', async () => {
    const lines = Array.from(
      { length: 25 },
      (_, i) => `M-404,delivered,2025-03-02T00:00:00Z,900,${i},kWh`,
    );
    const r = await box.run('ingest', box.file('many-bad.csv', csv(lines)));
    expect(r.code).toBe(0);
    const listed = r.stderr.trim().split('\n');
    expect(listed).toHaveLength(21);
    expect(listed[19]).toMatch(/^line 21: UNKNOWN_METER/);
    expect(listed[20]).toMatch(/5 more rejected rows/);
  });
});

describe('structural errors reject the whole file and write nothing', () => {
  const fine = rows('M-1', '2025-04-01T00:00:00Z', 4, () => '2');

  async function expectRejected(
    name: string,
    body: string | Buffer,
    code: string,
    message: RegExp,
  ): Promise<void> {
    const before = await batchCount();
    const r = await box.run('ingest', box.file(name, body));
    expect(r.code).toBe(1);
    expect(r.error?.code).toBe(code);
    expect(r.error?.message).toMatch(new RegExp(`^${code}: `));
    expect(r.error?.message).toMatch(message);
    expect(r.stdout).toBe('');
    expect(await batchCount()).toBe(before);
  }

  test('a missing column', async () => {
    const body = [
      'meter_serial,channel,interval_start,value,unit',
      'M-1,delivered,2025-04-01T00:00:00Z,2,kWh',
    ].join('\n');
    await expectRejected('missing-col.csv', body, 'MISSING_COLUMN', /interval_seconds/);
  });

  test('an empty file', async () => {
    await expectRejected('empty.csv', '', 'MISSING_COLUMN', /header/);
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
    await expectRejected('cut-utf8.csv', body, 'MALFORMED_FILE', /UTF-8/);
  });

  test('a 1 MB line without a newline', async () => {
    const body = csv(fine) + 'M-1,delivered,' + 'x'.repeat(1 << 20);
    await expectRejected('giant.csv', body, 'MALFORMED_FILE', /line 6 is longer than 65,536 bytes/);
  });

  test('a truncated quoted field', async () => {
    const body = csv(fine) + 'M-1,delivered,2025-04-01T01:00:00Z,900,"1.5,kWh\n';
    await expectRejected('truncated.csv', body, 'MALFORMED_FILE', /quoted field opened at line 6/);
  });

  test('a stray quote inside a field', async () => {
    const body = csv(fine) + 'M-1,deliv"ered,2025-04-01T01:00:00Z,900,1.5,kWh\n';
    await expectRejected('stray-quote.csv', body, 'MALFORMED_FILE', /line 6/);
  });

  test('a file that does not exist', async () => {
    const r = await box.run('ingest', `${box.dir}/nope.csv`);
    expect(r.code).toBe(1);
    expect(r.error?.code).toBe('NOT_FOUND');
  });

  test('after all that, no reading was stored, and the next batch is the only new one', async () => {
    const stored = await box.run(
      'readings',
      'M-1',
      '--from',
      '2025-04-01T00:00:00Z',
      '--to',
      '2025-04-01T02:00:00Z',
    );
    const values = stored.stdout.trim().split('\n').slice(1);
    expect(values).toHaveLength(8);
    for (const v of values) expect(v).toMatch(/,,missing$/);
    const before = await batchCount();
    const r = await box.run('ingest', '--json', box.file('after.csv', csv(fine)));
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 4 });
    expect(await batchCount()).toBe(before + 1);
  });
});

describe('readings', () => {
  beforeAll(async () => {
    const lines = rows('M-1', '2025-05-01T00:00:00Z', 4, (i) => String(i + 1));
    lines.splice(2, 1); // 00:30 is missing
    const r = await box.run('ingest', box.file('may.csv', csv(lines)));
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

  test('--help prints usage and succeeds', async () => {
    const r = await box.run('ingest', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: meterdata ingest/);
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
