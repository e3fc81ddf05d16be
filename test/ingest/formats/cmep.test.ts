import { ErrorCode } from '../../../src/errors';
import { cmepQuality, parseCmep, parseCmepInterval } from '../../../src/ingest/formats/cmep';
import { parserFor } from '../../../src/ingest/formats/types';
import { bytes, collect, fileBytes, iso, parseError } from './helpers';

const HEAD = 'MEPMD01,19970819,SENDER,SC1,RECV,RC1,202403150805';

/** One MEPMD01 line: meter, units, constant, interval, then triplets. */
function md01(
  meter: string,
  units: string,
  constant: string,
  interval: string,
  triplets: string[][],
  purpose = 'OK',
): string {
  return [
    HEAD,
    meter,
    purpose,
    'E',
    units,
    constant,
    interval,
    String(triplets.length),
    ...triplets.flat(),
  ].join(',');
}

describe('CMEP MEPMD01', () => {
  test('the hand-written fixture, in local standard time (-08:00)', async () => {
    const { items, positions, rejections } = await collect(
      parseCmep(fileBytes('cmep_mepmd01.txt', 50), { cmep: { timeZone: '-08:00' } }),
    );
    // Line 1: 15-minute kWh. The first date-time is the END of the first interval (00:15 PST).
    expect(
      items.slice(0, 4).map((i) => [iso(i.intervalStart as number), i.value, i.unit, i.quality]),
    ).toEqual([
      ['2024-03-15T08:00:00.000Z', 0.25, 'kWh', 0],
      ['2024-03-15T08:15:00.000Z', 0.5, 'kWh', 0],
      ['2024-03-15T08:30:00.000Z', 0.75, 'kWh', 8],
      ['2024-03-15T08:45:00.000Z', 1, 'kWh', 7],
    ]);
    expect(items[0]).toMatchObject({
      meterSerial: 'MTR-001',
      channel: 'delivered',
      intervalSeconds: 900,
    });
    // Line 2: average kW × calculation constant 40 × 0.25 h.
    expect(items.slice(4, 6).map((i) => [i.meterSerial, i.value, i.unit, i.quality])).toEqual([
      ['MTR-002', 1, 'kWh', 0],
      ['MTR-002', 2, 'kWh', 0],
    ]);
    // Line 5: hourly Wh; NaN and an unknown protocol code are rejected, the rest kept.
    expect(items.slice(6).map((i) => [iso(i.intervalStart as number), i.value, i.unit])).toEqual([
      ['2024-03-15T08:00:00.000Z', 500, 'Wh'],
      ['2024-03-15T11:00:00.000Z', 800, 'Wh'],
    ]);
    expect(positions).toEqual([1, 1, 1, 1, 2, 2, 5, 5]);
    expect(rejections.map((r) => [r.index, r.code])).toEqual([
      [3, ErrorCode.BAD_UNIT],
      [3, ErrorCode.BAD_UNIT],
      [4, ErrorCode.BAD_VALUE],
      [5, ErrorCode.BAD_VALUE],
      [5, ErrorCode.BAD_VALUE],
    ]);
    expect(rejections[0]!.message).toMatch(/register reads \(KWHREG\) are not interval data/);
    expect(rejections[2]!.message).toMatch(/MEPAD01/);
    expect(rejections[4]!.message).toMatch(/protocol code "X9"/);
  });

  test('the default time zone is UTC; interval_start is an option', async () => {
    const line = md01('M', 'KWH', '1', '00000100', [['202403150100', 'R0', '1']]);
    const utc = await collect(parseCmep(bytes(line)));
    expect(iso(utc.items[0]!.intervalStart as number)).toBe('2024-03-15T00:00:00.000Z');
    const start = await collect(
      parseCmep(bytes(line), { cmep: { timeConvention: 'interval_start' } }),
    );
    expect(iso(start.items[0]!.intervalStart as number)).toBe('2024-03-15T01:00:00.000Z');
  });

  test('hour 24 ends the day', async () => {
    const { items } = await collect(
      parseCmep(bytes(md01('M', 'KWH', '', '00000100', [['202403152400', 'R0', '1']]))),
    );
    expect(iso(items[0]!.intervalStart as number)).toBe('2024-03-15T23:00:00.000Z');
  });

  test('prevailing time (IANA zone): spring gap rejected, fall-back repeats by rule', async () => {
    const spring = md01('M', 'KWH', '1', '00000030', [
      ['202403100200', 'R0', '1'], // 02:00 does not exist in Los Angeles on 2024-03-10
      ['', 'R0', '2'], // no previous time to count from
      ['202403100330', 'R0', '3'],
    ]);
    const s = await collect(
      parseCmep(bytes(spring), { cmep: { timeZone: 'America/Los_Angeles' } }),
    );
    expect(s.items.map((i) => i.value)).toEqual([3]);
    expect(s.rejections.map((r) => r.code)).toEqual([
      ErrorCode.NONEXISTENT_LOCAL_TIME,
      ErrorCode.BAD_TIMESTAMP,
    ]);

    const fall = md01('M', 'KWH', '1', '00000030', [
      ['202411030030', 'R0', '1'], // 00:30 PDT
      ['202411030100', 'R0', '2'], // 01:00 happens twice (PDT, then PST)
      ['202411030130', 'R0', '3'],
      ['202411030100', 'R0', '4'],
      ['202411030130', 'R0', '5'],
      ['202411030200', 'R0', '6'], // 02:00 PST
    ]);
    const la = { timeZone: 'America/Los_Angeles' };
    const rejected = await collect(parseCmep(bytes(fall), { cmep: la }));
    expect(rejected.items.map((i) => i.value)).toEqual([1, 6]);
    expect(rejected.rejections.map((r) => r.code)).toEqual(
      Array(4).fill(ErrorCode.AMBIGUOUS_LOCAL_TIME),
    );
    const ordered = await collect(
      parseCmep(bytes(fall), { cmep: { ...la, ambiguousTime: 'order' } }),
    );
    expect(ordered.rejections).toEqual([]);
    expect(ordered.items.map((i) => iso(i.intervalStart as number))).toEqual(
      Array.from({ length: 6 }, (_, k) => iso(Date.UTC(2024, 10, 3, 7) + k * 1_800_000)),
    );
    const earlier = await collect(
      parseCmep(bytes(fall), { cmep: { ...la, ambiguousTime: 'earlier' } }),
    );
    expect(earlier.items.map((i) => iso(i.intervalStart as number).slice(11, 16))).toEqual([
      '07:00',
      '07:30',
      '08:00',
      '07:30',
      '08:00',
      '09:30',
    ]);
    // 'order' needs a previous triplet in the same record
    const first = await collect(
      parseCmep(bytes(md01('M', 'KWH', '1', '00000030', [['202411030100', 'R0', '1']])), {
        cmep: { ...la, ambiguousTime: 'order' },
      }),
    );
    expect(first.rejections.map((r) => r.code)).toEqual([ErrorCode.AMBIGUOUS_LOCAL_TIME]);
  });

  test('a truncated last line is structural; a short line in the middle is a row error', async () => {
    const good = md01('M', 'KWH', '1', '00000015', [
      ['202403150015', 'R0', '1'],
      ['', 'R0', '2'],
    ]);
    const err = await parseError(parseCmep(bytes(`${good}\n${good.slice(0, good.length - 6)}`)));
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
    expect(err.message).toMatch(/truncated/);
    expect(err.details.line).toBe(2);
    const middle = await collect(parseCmep(bytes(`${good.slice(0, good.length - 6)}\n${good}\n`)));
    expect(middle.items).toHaveLength(2);
    expect(middle.rejections).toMatchObject([{ index: 1, code: ErrorCode.BAD_VALUE }]);
  });

  test('the meter field is configurable (Sensus files leave the meter id empty)', async () => {
    const line =
      'MEPMD01,20080501,SENSUS,SPS:130000,15173624,B72842123,201109211458,,OK,E,KWH,1.0,00000100,2,201109200100,R0,5,201109200200,R0,6';
    const plain = await collect(parseCmep(bytes(line)));
    expect(plain.items).toEqual([]);
    expect(plain.rejections.map((r) => r.message)).toEqual(
      Array(2).fill('the record names no meter (see the meterField option)'),
    );
    const byReceiver = await collect(
      parseCmep(bytes(line), { cmep: { meterField: 'receiver_customer_id' } }),
    );
    expect(byReceiver.items.map((i) => i.meterSerial)).toEqual(['B72842123', 'B72842123']);
  });

  test('unitsMap adds codes and channels; unknown units and other commodities are BAD_UNIT', async () => {
    const lines = [
      md01('M', 'KWHR', '1', '00000015', [['202403150015', 'R0', '1']]),
      md01('M', 'KVARH', '1', '00000015', [['202403150015', 'R0', '1']]),
      md01('M', 'KWH', '1', '00000015', [['202403150015', 'R0', '1']]).replace(',OK,E,', ',OK,G,'),
    ].join('\n');
    const { items, rejections } = await collect(
      parseCmep(bytes(lines), {
        cmep: { unitsMap: { kwhr: { unit: 'KWH', channel: 'received' } } },
      }),
    );
    expect(items.map((i) => [i.channel, i.unit])).toEqual([['received', 'kWh']]);
    expect(rejections.map((r) => [r.index, r.code])).toEqual([
      [2, ErrorCode.BAD_UNIT],
      [3, ErrorCode.BAD_UNIT],
    ]);
  });

  test('the default channel can be received', async () => {
    const { items } = await collect(
      parseCmep(bytes(md01('M', 'KWH', '1', '00000015', [['202403150015', 'R0', '1']])), {
        cmep: { channel: 'received' },
      }),
    );
    expect(items[0]!.channel).toBe('received');
  });

  test('SUMMARY records, month intervals and bad constants are rejected per triplet', async () => {
    const t = [['202403150015', 'R0', '1']];
    const lines = [
      md01('M', 'KWH', '1', '00000015', t, 'SUMMARY'),
      md01('M', 'KWH', '1', '01000000', t),
      md01('M', 'KWH', 'x', '00000015', t),
      md01('M', 'KWH', '1', '00010000', t, 'HISTORY'),
    ].join('\n');
    const { items, rejections } = await collect(parseCmep(bytes(lines)));
    expect(items.map((i) => i.intervalSeconds)).toEqual([86400]);
    expect(rejections.map((r) => r.index)).toEqual([1, 2, 3]);
  });

  test('invalid UTF-8 and giant lines are structural', async () => {
    const buf = Buffer.from(
      md01('M\u00e9', 'KWH', '1', '00000015', [['202403150015', 'R0', '1']]) + '\n',
    );
    buf[buf.indexOf(0xc3)] = 0xc0;
    const err = await parseError(parseCmep(bytes(buf)));
    expect(err).toMatchObject({
      code: ErrorCode.MALFORMED_FILE,
      details: { line: 1, byteOffset: HEAD.length + 2 },
    });
    async function* endless(): AsyncGenerator<Buffer> {
      yield Buffer.from(`${HEAD},M,OK,E,KWH,1,00000015,999999`);
      const piece = Buffer.from(',202403150015,R0,1'.repeat(50_000));
      for (;;) yield piece;
    }
    const big = await parseError(parseCmep(endless(), { maxRecordBytes: 4 << 20 }));
    expect(big.message).toMatch(/line 1 is longer than 4,194,304 bytes/);
  });

  test('an empty file is structural', async () => {
    expect((await parseError(parseCmep(bytes('')))).code).toBe(ErrorCode.MALFORMED_FILE);
  });

  test('parserFor("cmep") is this parser', async () => {
    const { items } = await collect(
      parserFor('cmep')(bytes(md01('M', 'WH', '2', '00000005', [['202403150005', '', '3']]))),
    );
    expect(items).toEqual([
      {
        meterSerial: 'M',
        channel: 'delivered',
        intervalStart: Date.UTC(2024, 2, 15),
        intervalSeconds: 300,
        value: 6,
        unit: 'Wh',
        quality: 0,
      },
    ]);
  });
});

describe('CMEP helpers', () => {
  test.each([
    ['00000015', 900],
    ['00000005', 300],
    ['00000100', 3600],
    ['00010000', 86400],
    ['00000000', undefined],
    ['01000000', undefined],
    ['15', undefined],
  ])('interval %s → %s s', (raw, s) => {
    expect(parseCmepInterval(raw)).toBe(s);
  });

  test.each([
    ['R0', 0],
    ['R', 0],
    ['', 0],
    ['R 00 00', 0],
    ['r1', 0],
    ['E', 8],
    ['ES', 8],
    ['E1', 8],
    ['M', 7],
    ['M0', 7],
    ['X', undefined],
    ['A0', undefined],
  ])('protocol code %j → quality %s', (code, q) => {
    expect(cmepQuality(code)).toBe(q);
  });

  test('qualityMap overrides come first', () => {
    expect(cmepQuality('A0', new Map([['A0', 0]]))).toBe(0);
    expect(cmepQuality('E1', new Map([['E1', 9]]))).toBe(9);
  });
});
