import fs from 'node:fs';
import { ErrorCode } from '../../../src/errors';
import { csvParser } from '../../../src/ingest/formats/csv';
import { type CsvProfile, parseCsvProfile } from '../../../src/ingest/formats/csv-profile';
import { parserFor } from '../../../src/ingest/formats/types';
import { bytes, collect, fileBytes, fixture, iso, parseError } from './helpers';

const defaultCsv = parserFor('csv');
const H = 'meter_serial,channel,interval_start,interval_seconds,value,unit\n';

function profileFixture(name: string) {
  return parseCsvProfile(fs.readFileSync(fixture(name), 'utf8'), name);
}

type ProfileOverrides = Partial<Omit<CsvProfile, 'columns'>> & {
  columns?: Partial<CsvProfile['columns']>;
};

/** A small long-layout profile for table tests; `over` replaces fields (columns merge). */
function profile(over: ProfileOverrides = {}): CsvProfile {
  const { columns, ...rest } = over;
  return {
    ...rest,
    columns: {
      meter: 'meter',
      channel: { constant: 'delivered' },
      timestamp: 'time',
      value: 'value',
      unit: { constant: 'kWh' },
      intervalSeconds: { constant: 900 },
      ...columns,
    },
  };
}

describe('CSV: the built-in meterdata profile (documented default layout)', () => {
  test('reads items with line numbers; ISO offsets give UTC epoch ms', async () => {
    const csv =
      H +
      'M1,delivered,2024-01-15T10:00:00Z,900,1.25,kWh\r\n' +
      'M1,received,2024-01-15T11:15:00+01:00,900,500,Wh\r\n' +
      '\n' +
      'M2,DELIVERED,2024-01-15T05:30:00-0500,3600,0.002,MWh\n';
    const { items, positions, rejections } = await collect(defaultCsv(bytes(csv, 3)));
    expect(rejections).toEqual([]);
    expect(positions).toEqual([2, 3, 5]);
    expect(items).toEqual([
      {
        meterSerial: 'M1',
        channel: 'delivered',
        intervalStart: Date.UTC(2024, 0, 15, 10),
        intervalSeconds: 900,
        value: 1.25,
        unit: 'kWh',
      },
      {
        meterSerial: 'M1',
        channel: 'received',
        intervalStart: Date.UTC(2024, 0, 15, 10, 15),
        intervalSeconds: 900,
        value: 500,
        unit: 'Wh',
      },
      {
        meterSerial: 'M2',
        channel: 'delivered',
        intervalStart: Date.UTC(2024, 0, 15, 10, 30),
        intervalSeconds: 3600,
        value: 0.002,
        unit: 'MWh',
      },
    ]);
  });

  test('a timestamp without an offset is a row error in the default profile', async () => {
    const { items, rejections } = await collect(
      defaultCsv(
        bytes(
          H +
            'M1,delivered,2024-01-15T10:00:00,900,1,kWh\nM1,delivered,2024-01-15T10:15:00Z,900,1,kWh\n',
        ),
      ),
    );
    expect(items).toHaveLength(1);
    expect(rejections).toMatchObject([
      { index: 2, code: ErrorCode.BAD_TIMESTAMP, meterSerial: 'M1' },
    ]);
    expect(rejections[0]!.message).toMatch(/no offset/);
  });

  test('chunks hold at most chunkSize items; bytesRead ends at the file size', async () => {
    const rows = Array.from(
      { length: 2500 },
      (_, i) => `M${i % 7},delivered,${iso(Date.UTC(2024, 0, 1) + i * 900_000)},900,${i},kWh`,
    );
    const text = H + rows.join('\n') + '\n';
    const { chunks, items } = await collect(defaultCsv(bytes(text, 1000), { chunkSize: 1000 }));
    expect(items).toHaveLength(2500);
    expect(chunks.every((c) => c.items.length <= 1000)).toBe(true);
    expect(chunks[chunks.length - 1]!.bytesRead).toBe(Buffer.byteLength(text));
    expect(items.map((i) => i.value)).toEqual(rows.map((_, i) => i));
  });
});

describe('CSV: malformed files', () => {
  test('UTF-8 BOM: the header is still recognised', async () => {
    const { items, rejections } = await collect(defaultCsv(fileBytes('csv_bom.csv', 2)));
    expect(rejections).toEqual([]);
    expect(items.map((i) => i.value)).toEqual([1.25, 1.5]);
  });

  test('invalid UTF-8: rejected with line and byte offset', async () => {
    const buf = fs.readFileSync(fixture('csv_invalid_utf8.csv'));
    const at = buf.indexOf(0xc3);
    for (const size of [1, 7, 1 << 16]) {
      const err = await parseError(defaultCsv(bytes(buf, size)));
      expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
      expect(err.details).toEqual({ line: 3, byteOffset: at });
      expect(err.message).toMatch(`line 3, byte offset ${at}`);
    }
  });

  test('truncated file: an unterminated quote at EOF is a structural error', async () => {
    const err = await parseError(defaultCsv(fileBytes('csv_truncated_quote.csv', 16)));
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
    expect(err.message).toMatch(/ends inside a quoted field opened at line 3 \(truncated file\?\)/);
    expect(err.details.line).toBe(3);
  });

  test('a quote inside an unquoted field or text after a closing quote is structural', async () => {
    let err = await parseError(
      defaultCsv(bytes(H + 'M1,deli"vered,2024-01-15T10:00:00Z,900,1,kWh\n')),
    );
    expect(err).toMatchObject({ code: ErrorCode.MALFORMED_FILE, details: { line: 2 } });
    err = await parseError(
      defaultCsv(bytes(H + '"M1"x,delivered,2024-01-15T10:00:00Z,900,1,kWh\n')),
    );
    expect(err.message).toMatch(/after a closing quote/);
  });

  test('a giant line (no newlines) is bounded by maxRecordBytes and memory stays flat', async () => {
    async function* noNewlines(): AsyncGenerator<Buffer> {
      yield Buffer.from(H);
      const piece = Buffer.alloc(1 << 20, 'x');
      for (let i = 0; i < 1024; i++) yield piece; // 1 GiB if nothing stopped it
    }
    const before = process.memoryUsage().heapUsed;
    const err = await parseError(defaultCsv(noNewlines(), { maxRecordBytes: 1 << 20 }));
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
    expect(err.message).toMatch(/line 2 is longer than 1,048,576 bytes/);
    expect(err.details).toEqual({ line: 2, byteOffset: H.length });
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
  });

  test('a long line inside the limit is fine; multi-byte characters count as bytes', async () => {
    const meter = 'é'.repeat(400); // 800 bytes, 400 characters
    const row = `${meter},delivered,2024-01-15T10:00:00Z,900,1,kWh\n`;
    const ok = await collect(defaultCsv(bytes(H + row, 5), { maxRecordBytes: 1000 }));
    expect(ok.items[0]!.meterSerial).toBe(meter);
    const err = await parseError(defaultCsv(bytes(H + row, 5), { maxRecordBytes: 700 }));
    expect(err.message).toMatch(/line 2 is longer than 700 bytes/);
  });

  test('a missing column: MISSING_COLUMN naming it', async () => {
    const err = await parseError(defaultCsv(fileBytes('csv_missing_column.csv')));
    expect(err.code).toBe(ErrorCode.MISSING_COLUMN);
    expect(err.details).toMatchObject({ line: 1, missing: ['"unit"'] });
  });

  test('extra and reordered columns are mapped by name; rows of the wrong width are rejected, never shifted', async () => {
    const { items, positions, rejections } = await collect(
      defaultCsv(fileBytes('csv_reordered_extra.csv')),
    );
    expect(positions).toEqual([2, 3, 6]);
    expect(items.map((i) => [i.channel, i.value, i.unit, iso(i.intervalStart as number)])).toEqual([
      ['delivered', 1.25, 'kWh', '2024-01-15T09:00:00.000Z'],
      ['received', 500, 'Wh', '2024-01-15T09:15:00.000Z'],
      ['delivered', 0.001, 'MWh', '2024-01-15T10:00:00.000Z'],
    ]);
    expect(rejections.map((r) => [r.index, r.code])).toEqual([
      [4, ErrorCode.BAD_VALUE],
      [5, ErrorCode.BAD_VALUE],
    ]);
    expect(rejections[0]!.message).toMatch(
      /8 fields where the header has 7; rows are never shifted/,
    );
  });

  test('NaN, Infinity, 1e309, a decimal comma, empty and hex values: row rejected, rest kept', async () => {
    const { items, positions, rejections } = await collect(
      defaultCsv(fileBytes('csv_bad_values.csv')),
    );
    expect(items.map((i) => i.value)).toEqual([1.25, 2.75]);
    expect(positions).toEqual([2, 9]);
    expect(rejections.map((r) => [r.index, r.code])).toEqual(
      [3, 4, 5, 6, 7, 8].map((l) => [l, ErrorCode.BAD_VALUE]),
    );
    expect(rejections.find((r) => r.index === 6)!.message).toMatch(/decimal comma/);
  });

  test('a column named twice in the header is structural', async () => {
    const dup = await parseError(defaultCsv(bytes(H.replace('\n', ',value\n'))));
    expect(dup).toMatchObject({ code: ErrorCode.MALFORMED_FILE, details: { line: 1 } });
  });

  test('an empty file is structural', async () => {
    const err = await parseError(defaultCsv(bytes('')));
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
  });

  test('quoted fields with line ends keep line numbers right', async () => {
    const csv =
      H +
      '"M\n1",delivered,2024-01-15T10:00:00Z,900,1,kWh\r\nM2,delivered,2024-01-15T10:00:00Z,900,x,kWh\n';
    const { items, positions, rejections } = await collect(defaultCsv(bytes(csv, 1)));
    expect(items[0]!.meterSerial).toBe('M\n1');
    expect(positions).toEqual([2]);
    expect(rejections.map((r) => r.index)).toEqual([4]);
  });
});

describe('CSV: the three worked examples in docs/formats-headend.md', () => {
  test('German DSO export: semicolons, decimal comma, date + time, interval end, fall-back day by order', async () => {
    const p = profileFixture('headend_de_semicolon_berlin.profile.json');
    const parse = csvParser(p);
    const { items, positions, rejections } = await collect(
      parse(fileBytes('headend_de_semicolon_berlin.csv', 100), {
        meter: 'DE0001234567890000000000000012345',
      }),
    );
    expect(rejections).toEqual([]);
    expect(items).toHaveLength(100); // 25 hours of quarter hours
    expect(positions[0]).toBe(4); // two preamble lines and the header
    const starts = items.map((i) => i.intervalStart as number);
    expect(iso(starts[0]!)).toBe('2023-10-28T22:00:00.000Z'); // local midnight, CEST
    expect(starts.every((s, k) => k === 0 || s - starts[k - 1]! === 900_000)).toBe(true);
    expect(items.filter((i) => i.quality === 8).map((i) => positions[items.indexOf(i)])).toEqual([
      44, 45,
    ]);
    const csvTotal = fs
      .readFileSync(fixture('headend_de_semicolon_berlin.csv'), 'utf8')
      .split('\r\n')
      .slice(3, -1)
      .reduce((s, l) => s + Math.round(Number(l.split(';')[2]!.replace(',', '.')) * 1000), 0);
    expect(Math.round(items.reduce((s, i) => s + (i.value as number), 0) * 1000)).toBe(csvTotal);
    expect(items[0]).toMatchObject({
      meterSerial: 'DE0001234567890000000000000012345',
      unit: 'kWh',
      channel: 'delivered',
    });
  });

  test('the same export with ambiguousTime reject/earlier/later', async () => {
    const base = JSON.parse(
      fs.readFileSync(fixture('headend_de_semicolon_berlin.profile.json'), 'utf8'),
    ) as CsvProfile;
    const run = (over: Partial<CsvProfile>) =>
      collect(
        csvParser({ ...base, ...over })(fileBytes('headend_de_semicolon_berlin.csv'), {
          meter: 'M',
        }),
      );
    const rejected = await run({ ambiguousTime: 'reject' });
    expect(rejected.items).toHaveLength(92);
    expect(rejected.rejections.map((r) => r.code)).toEqual(
      Array(8).fill(ErrorCode.AMBIGUOUS_LOCAL_TIME),
    );
    expect(rejected.rejections.map((r) => r.index)).toEqual([11, 12, 13, 14, 15, 16, 17, 18]);
    for (const rule of ['earlier', 'later'] as const) {
      const r = await run({ ambiguousTime: rule });
      expect(r.items).toHaveLength(100);
      expect(new Set(r.items.map((i) => i.intervalStart)).size).toBe(96); // 4 pairs collide
    }
  });

  test('US wide export: 92, 96 and 100 intervals by local day, premise-meter identity, DEL/REC', async () => {
    const parse = csvParser(profileFixture('headend_us_wide_chicago.profile.json'));
    const { items, positions, rejections } = await collect(
      parse(fileBytes('headend_us_wide_chicago.csv', 333)),
    );
    expect(rejections).toEqual([]);
    const byRow = new Map<number, number[]>();
    items.forEach((it, k) =>
      byRow.set(positions[k]!, [...(byRow.get(positions[k]!) ?? []), it.intervalStart as number]),
    );
    // rows: P100 DEL/REC for Mar 10, Mar 11, Nov 3; P200 DEL for the same days
    expect([...byRow.entries()].map(([line, s]) => [line, s.length])).toEqual([
      [2, 92],
      [3, 92],
      [4, 96],
      [5, 96],
      [6, 100],
      [7, 100],
      [8, 92],
      [9, 96],
      [10, 100],
    ]);
    expect(iso(byRow.get(2)![0]!)).toBe('2024-03-10T06:00:00.000Z'); // CST midnight
    expect(iso(byRow.get(2)![91]! + 900_000)).toBe('2024-03-11T05:00:00.000Z'); // CDT midnight
    expect(iso(byRow.get(6)![0]!)).toBe('2024-11-03T05:00:00.000Z');
    expect(iso(byRow.get(6)![99]! + 900_000)).toBe('2024-11-04T06:00:00.000Z');
    expect(items[0]).toMatchObject({ meterSerial: 'P100-7712', channel: 'delivered', unit: 'kWh' });
    expect(items[92]).toMatchObject({ meterSerial: 'P100-7712', channel: 'received' });
    expect(items[items.length - 1]).toMatchObject({ meterSerial: 'P200-8813' });
  });

  test('wide layout: a value past the short day, or a long day with too few columns, is rejected', async () => {
    const base = JSON.parse(
      fs.readFileSync(fixture('headend_us_wide_chicago.profile.json'), 'utf8'),
    ) as CsvProfile;
    const head = [
      'PREMISE',
      'METER_NO',
      'DIR',
      'READ_DATE',
      'UOM',
      ...Array.from({ length: 100 }, (_, k) => `INT${String(k + 1).padStart(3, '0')}`),
    ];
    const row = (date: string, n: number) =>
      [
        'P1',
        'M1',
        'DEL',
        date,
        'KWH',
        ...Array.from({ length: 100 }, (_, k) => (k < n ? '1' : '')),
      ].join(',');
    const csv = [head.join(','), row('2024-03-10', 93), row('2024-11-03', 100)].join('\n') + '\n';
    const r = await collect(csvParser(base)(bytes(csv)));
    expect(r.items).toHaveLength(192);
    expect(r.rejections).toMatchObject([{ index: 2, code: ErrorCode.NONEXISTENT_LOCAL_TIME }]);
    expect(r.rejections[0]!.message).toMatch(/"INT093"/);
    const short = { ...base, intervalColumns: { from: 'INT001', count: 96 } };
    const r2 = await collect(csvParser(short)(bytes(csv)));
    expect(r2.rejections.map((x) => [x.index, x.code])).toEqual([
      [2, ErrorCode.NONEXISTENT_LOCAL_TIME],
      [3, ErrorCode.AMBIGUOUS_LOCAL_TIME],
    ]);
  });

  test('AMI demand export: no header, average kW → kWh, interval end, newest first across fall-back', async () => {
    const parse = csvParser(profileFixture('headend_pipe_kw_newest_first.profile.json'));
    const text = fs.readFileSync(fixture('headend_pipe_kw_newest_first.txt'), 'utf8');
    const { items, rejections } = await collect(parse(bytes(text, 64)));
    expect(rejections).toEqual([]);
    expect(items).toHaveLength(24);
    const lines = text.trim().split('\n');
    items.forEach((it, k) => {
      const kw = Number(lines[k]!.split('|')[3]);
      expect(it.value).toBe((kw * 900) / 3600);
      expect(it.unit).toBe('kWh');
    });
    for (const ch of ['delivered', 'received']) {
      const starts = items.filter((i) => i.channel === ch).map((i) => i.intervalStart as number);
      // newest first: 06:45Z (the interval ending 02:00 EST) down to 04:00Z (ending 00:15 EDT)
      expect(starts.map(iso)).toEqual(
        Array.from({ length: 12 }, (_, k) => iso(Date.UTC(2024, 10, 3, 6, 45) - k * 900_000)),
      );
    }
    expect(items.filter((i) => i.quality === 8)).toHaveLength(2);
  });
});

describe('CSV: time rules', () => {
  const berlin = (over: ProfileOverrides) =>
    csvParser(profile({ timestampFormat: 'yyyy-MM-dd HH:mm', timeZone: 'Europe/Berlin', ...over }));
  const head = 'meter,time,value\n';

  test('a spring-forward local time that does not exist is NONEXISTENT_LOCAL_TIME with its line', async () => {
    const csv = head + 'M,2024-03-31 01:45,1\nM,2024-03-31 02:30,1\nM,2024-03-31 03:00,1\n';
    const { items, rejections } = await collect(berlin({})(bytes(csv)));
    expect(items.map((i) => iso(i.intervalStart as number))).toEqual([
      '2024-03-31T00:45:00.000Z',
      '2024-03-31T01:00:00.000Z',
    ]);
    expect(rejections).toMatchObject([{ index: 3, code: ErrorCode.NONEXISTENT_LOCAL_TIME }]);
  });

  test('ambiguous fall-back times under each rule', async () => {
    const csv = head + 'M,2024-10-27 02:30,1\nM,2024-10-27 02:30,2\n';
    const run = async (over: ProfileOverrides) => collect(berlin(over)(bytes(csv)));
    const rejected = await run({});
    expect(rejected.rejections.map((r) => r.code)).toEqual([
      ErrorCode.AMBIGUOUS_LOCAL_TIME,
      ErrorCode.AMBIGUOUS_LOCAL_TIME,
    ]);
    const earlier = await run({ ambiguousTime: 'earlier' });
    expect(earlier.items.map((i) => iso(i.intervalStart as number))).toEqual([
      '2024-10-27T00:30:00.000Z',
      '2024-10-27T00:30:00.000Z',
    ]);
    const later = await run({ ambiguousTime: 'later' });
    expect(later.items.map((i) => iso(i.intervalStart as number))).toEqual([
      '2024-10-27T01:30:00.000Z',
      '2024-10-27T01:30:00.000Z',
    ]);
    const order = await run({ ambiguousTime: 'order' });
    expect(order.items.map((i) => iso(i.intervalStart as number))).toEqual([
      '2024-10-27T00:30:00.000Z',
      '2024-10-27T01:30:00.000Z',
    ]);
    const newest = await run({ ambiguousTime: 'order', rowOrder: 'newest_first' });
    expect(newest.items.map((i) => iso(i.intervalStart as number))).toEqual([
      '2024-10-27T01:30:00.000Z',
      '2024-10-27T00:30:00.000Z',
    ]);
  });

  test('order: interleaved meters keep their own sequence; a third occurrence is rejected', async () => {
    const csv =
      head +
      'A,2024-10-27 02:30,1\nB,2024-10-27 02:30,1\nA,2024-10-27 02:30,2\nB,2024-10-27 02:45,2\nA,2024-10-27 02:30,3\n';
    const r = await collect(berlin({ ambiguousTime: 'order' })(bytes(csv)));
    expect(r.items.map((i) => [i.meterSerial, iso(i.intervalStart as number)])).toEqual([
      ['A', '2024-10-27T00:30:00.000Z'],
      ['B', '2024-10-27T00:30:00.000Z'],
      ['A', '2024-10-27T01:30:00.000Z'],
      ['B', '2024-10-27T00:45:00.000Z'],
    ]);
    expect(r.rejections).toMatchObject([
      { index: 6, code: ErrorCode.AMBIGUOUS_LOCAL_TIME, meterSerial: 'A' },
    ]);
  });

  test('an explicit offset always wins over the profile zone', async () => {
    const p = csvParser(profile({ timeZone: 'Europe/Berlin' }));
    const { items } = await collect(
      p(bytes(head + 'M,2024-10-27T02:30+02:00,1\nM,2024-10-27 02:30Z,1\n')),
    );
    expect(items.map((i) => iso(i.intervalStart as number))).toEqual([
      '2024-10-27T00:30:00.000Z',
      '2024-10-27T02:30:00.000Z',
    ]);
  });

  test('fixed-offset and UTC zones never have gaps or repeats', async () => {
    for (const [zone, expected] of [
      ['+01:00', '2024-03-31T01:30:00.000Z'],
      ['UTC', '2024-03-31T02:30:00.000Z'],
      ['-0800', '2024-03-31T10:30:00.000Z'],
    ]) {
      const { items } = await collect(
        csvParser(profile({ timeZone: zone }))(bytes(head + 'M,2024-03-31T02:30,1\n')),
      );
      expect(iso(items[0]!.intervalStart as number)).toBe(expected);
    }
  });

  test('interval_end shifts by one interval (of the row)', async () => {
    const p = csvParser(
      profile({
        timestampConvention: 'interval_end',
        timeZone: 'UTC',
        columns: { intervalSeconds: 'secs' },
      }),
    );
    const { items } = await collect(
      p(
        bytes(
          'meter,time,value,secs\nM,2024-01-01T00:15,1,900\nM,2024-01-01T01:00,1,3600\nM,2024-01-01T24:00,1,1800\n',
        ),
      ),
    );
    expect(items.map((i) => iso(i.intervalStart as number))).toEqual([
      '2024-01-01T00:00:00.000Z',
      '2024-01-01T00:00:00.000Z',
      '2024-01-01T23:30:00.000Z',
    ]);
  });

  test('epoch seconds and milliseconds: a 1970 time parses to the right ms (validation rejects it later)', async () => {
    const s = await collect(
      csvParser(profile({ timestampFormat: 'epoch_s' }))(
        bytes(head + 'M,0,1\nM,900,1\nM,1704067200,1\nM,17e8,1\n'),
      ),
    );
    expect(s.items.map((i) => i.intervalStart)).toEqual([0, 900_000, 1_704_067_200_000]);
    expect(s.rejections).toMatchObject([{ index: 5, code: ErrorCode.BAD_TIMESTAMP }]);
    const ms = await collect(
      csvParser(profile({ timestampFormat: 'epoch_ms' }))(
        bytes(head + 'M,0,1\nM,900000,1\nM,123.5,1\n'),
      ),
    );
    expect(ms.items.map((i) => i.intervalStart)).toEqual([0, 900_000]);
    expect(ms.rejections).toHaveLength(1);
  });

  test('timestamps off an interval boundary are kept for validateReading to reject', async () => {
    const { items } = await collect(
      defaultCsv(bytes(H + 'M1,delivered,2024-01-15T10:07:00Z,900,1,kWh\n')),
    );
    expect(iso(items[0]!.intervalStart as number)).toBe('2024-01-15T10:07:00.000Z');
  });

  test('an impossible date is BAD_TIMESTAMP', async () => {
    const { rejections } = await collect(
      berlin({})(bytes(head + 'M,2024-02-30 10:00,1\nM,2024-13-01 10:00,1\n')),
    );
    expect(rejections.map((r) => r.code)).toEqual([
      ErrorCode.BAD_TIMESTAMP,
      ErrorCode.BAD_TIMESTAMP,
    ]);
  });
});

describe('CSV: units, values, channels', () => {
  const head = 'meter,time,value,unit,channel\n';
  const p = (over: ProfileOverrides = {}) =>
    csvParser(profile({ ...over, columns: { unit: 'unit', channel: 'channel', ...over.columns } }));

  test('Wh, kWh and MWh are passed on as declared; a power unit in an energy profile is BAD_UNIT', async () => {
    const csv =
      head +
      'M,2024-01-01T00:00Z,500,Wh,delivered\nM,2024-01-01T00:15Z,0.5,KWH,delivered\nM,2024-01-01T00:30Z,0.0005,mwh,delivered\nM,2024-01-01T00:45Z,2,kW,delivered\n';
    const { items, rejections } = await collect(p()(bytes(csv)));
    expect(items.map((i) => [i.value, i.unit])).toEqual([
      [500, 'Wh'],
      [0.5, 'kWh'],
      [0.0005, 'MWh'],
    ]);
    expect(rejections).toMatchObject([{ index: 5, code: ErrorCode.BAD_UNIT }]);
    expect(rejections[0]!.message).toMatch(/average_power/);
  });

  test('average power → energy per interval: kW × hours', async () => {
    const csv =
      'meter,time,value,unit,channel,secs\nM,2024-01-01T00:00Z,2,kW,delivered,900\nM,2024-01-01T01:00Z,1500,W,delivered,3600\nM,2024-01-01T02:00Z,0.004,MW,delivered,1800\nM,2024-01-01T03:00Z,1,kWh,delivered,900\n';
    const parse = p({ valueKind: 'average_power', columns: { intervalSeconds: 'secs' } });
    const { items, rejections } = await collect(parse(bytes(csv)));
    expect(items.map((i) => [i.value, i.unit])).toEqual([
      [0.5, 'kWh'],
      [1500, 'Wh'],
      [0.002, 'MWh'],
    ]);
    expect(rejections).toMatchObject([{ index: 5, code: ErrorCode.BAD_UNIT }]);
  });

  test('channel labels map case-insensitively; unknown labels are UNKNOWN_CHANNEL', async () => {
    const map = {
      IMPORT: 'delivered',
      DEL: 'delivered',
      REVERSE: 'received',
      RETURN: 'received',
      EXPORT: 'received',
    } as const;
    const labels = ['import', 'Del', 'REVERSE', 'return', 'Export', 'delivered', 'RECEIVED', 'net'];
    const csv =
      head +
      labels.map((l, k) => `M,${iso(Date.UTC(2024, 0, 1) + k * 900_000)},1,kWh,${l}`).join('\n') +
      '\n';
    const { items, rejections } = await collect(p({ channelMap: map })(bytes(csv)));
    expect(items.map((i) => i.channel)).toEqual([
      'delivered',
      'delivered',
      'received',
      'received',
      'received',
      'delivered',
      'received',
    ]);
    expect(rejections).toMatchObject([{ index: 9, code: ErrorCode.UNKNOWN_CHANNEL }]);
  });

  test('a decimal comma profile reads 1,5 and refuses 1.5', async () => {
    const parse = csvParser(profile({ delimiter: ';', decimalSeparator: ',' }));
    const { items, rejections } = await collect(
      parse(
        bytes(
          'meter;time;value\nM;2024-01-01T00:00Z;1,5\nM;2024-01-01T00:15Z;1.5\nM;2024-01-01T00:30Z;-0,25\n',
        ),
      ),
    );
    expect(items.map((i) => i.value)).toEqual([1.5, -0.25]);
    expect(rejections).toMatchObject([{ index: 3, code: ErrorCode.BAD_VALUE }]);
    expect(rejections[0]!.message).toMatch(/decimal point/);
  });

  test('quality: ESPI codes and qualityMap labels; anything else is rejected', async () => {
    const parse = csvParser(profile({ columns: { quality: 'q' }, qualityMap: { A: 0, est: 8 } }));
    const csv =
      'meter,time,value,q\nM,2024-01-01T00:00Z,1,A\nM,2024-01-01T00:15Z,1,EST\nM,2024-01-01T00:30Z,1,9\nM,2024-01-01T00:45Z,1,\nM,2024-01-01T01:00Z,1,5\n';
    const { items, rejections } = await collect(parse(bytes(csv)));
    expect(items.map((i) => i.quality)).toEqual([0, 8, 9, undefined]);
    expect(rejections).toMatchObject([{ index: 6, code: ErrorCode.BAD_VALUE }]);
  });
});

describe('CSV: layouts and identity', () => {
  test('no header: columns by position; rows of another width are rejected', async () => {
    const parse = csvParser(
      profile({ hasHeader: false, columns: { meter: 2, timestamp: 0, value: 1 } }),
    );
    const { items, rejections } = await collect(
      parse(bytes('2024-01-01T00:00Z,1,M\n2024-01-01T00:15Z,2\n2024-01-01T00:30Z,3,M\n')),
    );
    expect(items.map((i) => [i.meterSerial, i.value])).toEqual([
      ['M', 1],
      ['M', 3],
    ]);
    expect(rejections).toMatchObject([{ index: 2, code: ErrorCode.BAD_VALUE }]);
  });

  test('no header and a position beyond the first row: MISSING_COLUMN', async () => {
    const parse = csvParser(
      profile({ hasHeader: false, columns: { meter: 5, timestamp: 0, value: 1 } }),
    );
    const err = await parseError(parse(bytes('2024-01-01T00:00Z,1,M\n')));
    expect(err.code).toBe(ErrorCode.MISSING_COLUMN);
  });

  test('meterColumns join identity columns', async () => {
    const over = profile({
      meterColumns: { columns: ['premise', 'meter'], separator: ':' },
      columns: { meter: undefined },
    });
    const { items, rejections } = await collect(
      csvParser(over)(
        bytes('premise,meter,time,value\nP1,77,2024-01-01T00:00Z,1\nP1,,2024-01-01T00:00Z,1\n'),
      ),
    );
    expect(items.map((i) => i.meterSerial)).toEqual(['P1:77']);
    expect(rejections).toMatchObject([{ index: 3, code: ErrorCode.BAD_VALUE }]);
  });

  test('a profile without a meter column takes --meter, and needs it', async () => {
    const parse = csvParser(profile({ columns: { meter: undefined } }));
    const { items } = await collect(
      parse(bytes('time,value\n2024-01-01T00:00Z,1\n'), { meter: 'SN9' }),
    );
    expect(items[0]!.meterSerial).toBe('SN9');
    const err = await parseError(parse(bytes('time,value\n2024-01-01T00:00Z,1\n')));
    expect(err.code).toBe(ErrorCode.MISSING_COLUMN);
    expect(err.message).toMatch(/--meter/);
    const twice = await parseError(
      csvParser(profile())(bytes('meter,time,value\n'), { meter: 'X' }),
    );
    expect(twice.code).toBe(ErrorCode.BAD_USER_INPUT);
  });

  test('skipRows skips a preamble without parsing it (stray quotes included)', async () => {
    const parse = csvParser(profile({ skipRows: 2 }));
    const { items, positions } = await collect(
      parse(
        bytes('Report "daily\nGenerated 2024-01-02\nmeter,time,value\nM,2024-01-01T00:00Z,1\n', 4),
      ),
    );
    expect(items).toHaveLength(1);
    expect(positions).toEqual([4]);
  });

  test('tab and pipe delimiters', async () => {
    for (const d of ['\t', '|'] as const) {
      const { items } = await collect(
        csvParser(profile({ delimiter: d }))(
          bytes(
            ['meter', 'time', 'value'].join(d) +
              '\n' +
              ['M', '2024-01-01T00:00Z', '4'].join(d) +
              '\n',
          ),
        ),
      );
      expect(items[0]!.value).toBe(4);
    }
  });
});

describe('CSV: rows read without splitting them give what splitting gives', () => {
  // A quoted record always goes the general way (split into fields); the same rows unquoted
  // are read straight from the line where they have their usual shape. Both must give the same
  // items, positions and rejections, whatever the rows hold.
  const quoteAll = (csv: string) =>
    csv
      .split('\n')
      .map((line, n) =>
        n === 0 || line === ''
          ? line
          : line
              .split(',')
              .map((f) => `"${f.replace(/\r$/, '')}"${f.endsWith('\r') ? '\r' : ''}`)
              .join(','),
      )
      .join('\n');

  const rows = [
    'M1,delivered,2024-01-15T10:00:00Z,900,1.25,kWh',
    'M1,delivered,2024-01-15T10:15:00Z,900,-0.5,kWh',
    'M1,delivered,2024-01-15T10:30:00+01:00,900,.75,kWh',
    'M1,delivered,2024-01-15T10:45:00Z,900,2e-3,kWh', // exponent: general way
    'M1,received,2024-01-15T10:00:00Z,900,0.1,kWh', // another channel: general way, then memo
    'M1,received,2024-01-15T10:15:00Z,900,0.2,kWh',
    'M1,delivered,2024-01-15T10:30:00Z,900,0.3,kWh', // channels alternating: both labels known
    'M1,received,2024-01-15T10:30:00Z,900,0.4,kWh',
    'M2 ,delivered,2024-01-15T10:00:00Z,900,1,kWh', // a padded serial: general way (trimmed)
    'M2,delivered,2024-01-15 10:15:00Z,900,1,kWh', // a space for T
    'M2,delivered,2024-01-15T10:30:00Z,900,1,Wh', // another unit
    'M2,delivered,2024-01-15T10:45:00Z,900,1,Wh',
    'M2,delivered,2024-01-15T11:00:00Z,300,1,Wh', // another interval length
    'M2,delivered,2024-01-15T11:00:00Z,900,1,kWh,extra', // a field too many
    'M2,delivered,2024-01-15T11:15:00Z,900,1', // a field too few
    'M2,sideways,2024-01-15T11:30:00Z,900,1,kWh', // an unknown channel
    'M2,delivered,2024-02-30T11:45:00Z,900,1,kWh', // no such day
    'M2,delivered,2024-01-15T12:00:00Z,900,1.2.3,kWh', // not a number
    'M2,delivered,2024-01-15T12:15:00Z,900,1000000000001,kWh', // beyond 1e12
    ',delivered,2024-01-15T12:30:00Z,900,1,kWh', // no meter
    'M3,delivered,2024-01-15T12:45:00+14:30,900,1,kWh', // offset out of range
    'M3,delivered,2024-01-15T13:00:00-05:30,900,1234567890.12345,kWh\r',
    'M3,delivered,2024-01-15T13:15:00Z,900,+3,kWh',
  ];

  test('default layout', async () => {
    const csv = H + rows.join('\n') + '\n';
    const fast = await collect(defaultCsv(bytes(csv)));
    const general = await collect(defaultCsv(bytes(quoteAll(csv))));
    expect(fast.items).toEqual(general.items);
    expect(fast.positions).toEqual(general.positions);
    expect(fast.rejections).toEqual(general.rejections);
    // The case is not empty: most rows are readings, and the odd ones were rejected.
    expect(fast.items.length).toBe(15);
    expect(fast.rejections.map((r) => r.index)).toEqual([15, 16, 17, 18, 19, 20, 21, 22]);
  });

  test('interval-end timestamps, constants and a profile without a meter column', async () => {
    const parse = csvParser(
      profile({
        timestampConvention: 'interval_end',
        columns: { meter: undefined, channel: 'ch', unit: 'u', intervalSeconds: undefined },
        defaultIntervalSeconds: 900,
      }),
    );
    const csv =
      'ch,time,value,u\n' +
      'delivered,2024-01-15T10:15:00Z,1.5,kWh\n' +
      'delivered,2024-01-15T10:30:00Z,2.5,kWh\n' +
      'delivered,2024-01-15T10:45:00+00:00,3.5,kWh\n' +
      'delivered,2024-01-15T11:00:00Z,,kWh\n';
    const fast = await collect(parse(bytes(csv), { meter: 'M9' }));
    const general = await collect(parse(bytes(quoteAll(csv)), { meter: 'M9' }));
    expect(fast.items).toEqual(general.items);
    expect(fast.positions).toEqual(general.positions);
    expect(fast.rejections).toEqual(general.rejections);
    expect(fast.items.map((i) => i.intervalStart)).toEqual([
      Date.parse('2024-01-15T10:00:00Z'),
      Date.parse('2024-01-15T10:15:00Z'),
      Date.parse('2024-01-15T10:30:00Z'),
    ]);
    expect(fast.rejections).toHaveLength(1);
  });
});
