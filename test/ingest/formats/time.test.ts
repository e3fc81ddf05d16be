import { DateTime, IANAZone } from 'luxon';
import {
  LocalTimeResolver,
  canonicalInstant,
  checkLuxonFormat,
  parseCompactTimestamp,
  parseIsoTimestamp,
  parseTimeZone,
  timestampParser,
  wallClockMs,
} from '../../../src/ingest/formats/time';

const U = Date.UTC;

describe('parseIsoTimestamp', () => {
  test.each([
    ['2024-03-10', { kind: 'local', ms: U(2024, 2, 10) }],
    ['2024-03-10T02:30', { kind: 'local', ms: U(2024, 2, 10, 2, 30) }],
    ['2024-03-10 02:30:15.5', { kind: 'local', ms: U(2024, 2, 10, 2, 30, 15, 500) }],
    ['2024-03-10T24:00', { kind: 'local', ms: U(2024, 2, 11) }],
    ['2024-03-10T02:30Z', { kind: 'instant', ms: U(2024, 2, 10, 2, 30) }],
    ['2024-03-10T02:30:00+01:00', { kind: 'instant', ms: U(2024, 2, 10, 1, 30) }],
    ['2024-03-10T02:30:00-0530', { kind: 'instant', ms: U(2024, 2, 10, 8, 0) }],
    ['2024-03-10T02:30:00+01', { kind: 'instant', ms: U(2024, 2, 10, 1, 30) }],
    [' 2024-03-10T02:30Z ', { kind: 'instant', ms: U(2024, 2, 10, 2, 30) }],
  ])('%j', (raw, expected) => {
    expect(parseIsoTimestamp(raw)).toEqual(expected);
  });

  test.each([
    '2024-02-30',
    '2023-02-29T00:00',
    '2024-03-10T24:15',
    '2024-03-10T12:60',
    '10.03.2024',
    '2024-03-10T02:30+15:00',
    '',
  ])('%j is an error', (raw) => {
    expect(parseIsoTimestamp(raw).kind).toBe('error');
  });

  test('2024-02-29 is a date', () => {
    expect(parseIsoTimestamp('2024-02-29').kind).toBe('local');
  });

  test.each([
    ['2024-03-10T02:30:15Z', U(2024, 2, 10, 2, 30, 15)],
    ['2024-03-10T02:30:00+01:00', U(2024, 2, 10, 1, 30)],
    ['2024-03-10T02:30:00-05:30', U(2024, 2, 10, 8, 0)],
    ['2024-02-29T23:45:00+14:00', U(2024, 1, 29, 9, 45)],
    ['2024-03-10T24:00:00Z', U(2024, 2, 11)],
  ])('the row-per-interval shape %j reads from character codes as %d', (raw, ms) => {
    expect(canonicalInstant(raw)).toBe(ms);
    expect(parseIsoTimestamp(raw)).toEqual({ kind: 'instant', ms });
  });

  test('a year before 100 in that shape goes the general way, to the same instant', () => {
    expect(canonicalInstant('0099-03-10T00:00:00Z')).toBeUndefined();
    expect(parseIsoTimestamp('0099-03-10T00:00:00Z')).toEqual({
      kind: 'instant',
      ms: new Date(U(2000, 2, 10)).setUTCFullYear(99),
    });
  });

  test.each([
    '2023-02-29T00:00:00Z',
    '2024-03-10T24:15:00Z',
    '2024-13-10T00:00:00Z',
    '2024-03-10T02:60:00Z',
    '2024-03-10T02:30:60Z',
    '2024-03-10T02:30:00+15:00',
    '2024-03-10T02:30:00+01:60',
    '2024-03-10T0a:30:00Z',
  ])('%j in that shape is still an error', (raw) => {
    expect(canonicalInstant(raw)).toBeUndefined();
    expect(parseIsoTimestamp(raw).kind).toBe('error');
  });

  test('the shape read from character codes agrees with the general reading', () => {
    for (let k = 0; k < 2000; k++) {
      const ms = U(1990, 0, 1) + Math.floor(Math.random() * 50 * 365) * 86_400_000 + k * 61_000;
      const offset = (Math.floor(Math.random() * 57) - 28) * 30; // minutes, ±14 h
      const local = new Date(ms + offset * 60_000).toISOString().slice(0, 19);
      const sign = offset < 0 ? '-' : '+';
      const abs = Math.abs(offset);
      const text = `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
      expect(canonicalInstant(text)).toBe(ms);
      expect(canonicalInstant(`${new Date(ms).toISOString().slice(0, 19)}Z`)).toBe(ms);
    }
  });
});

describe('epoch and compact formats', () => {
  test('epoch_s and epoch_ms, 1970 included', () => {
    expect(timestampParser('epoch_s')('0')).toEqual({ kind: 'instant', ms: 0 });
    expect(timestampParser('epoch_s')('1.5')).toEqual({ kind: 'instant', ms: 1500 });
    expect(timestampParser('epoch_ms')('-1000')).toEqual({ kind: 'instant', ms: -1000 });
    expect(timestampParser('epoch_s')('1e9').kind).toBe('error');
  });

  test('CCYYMMDDHHMM', () => {
    expect(parseCompactTimestamp('202403152400')).toBe(U(2024, 2, 16));
    expect(parseCompactTimestamp('202402300000')).toBeUndefined();
    expect(parseCompactTimestamp('2024031524')).toBeUndefined();
    expect(parseCompactTimestamp(' 202403151230 ')).toBe(U(2024, 2, 15, 12, 30));
    for (const bad of [
      '2024031512a0',
      '202413150000',
      '202403151260',
      '202403152401',
      '+20240315123',
    ])
      expect(parseCompactTimestamp(bad)).toBeUndefined();
    expect(parseCompactTimestamp('009903150000')).toBe(new Date(U(2000, 2, 15)).setUTCFullYear(99));
    for (let k = 0; k < 2000; k++) {
      const ms = U(1990, 0, 1) + Math.floor(Math.random() * 50 * 365 * 1440) * 60_000;
      const text = new Date(ms).toISOString().slice(0, 16).replace(/[-T:]/g, '');
      expect(parseCompactTimestamp(text)).toBe(ms);
    }
  });

  test('wallClockMs range checks', () => {
    expect(wallClockMs(2024, 1, 31, 23, 59, 59, 999)).toBe(U(2024, 0, 31, 23, 59, 59, 999));
    expect(wallClockMs(2024, 4, 31)).toBeUndefined();
    expect(wallClockMs(2024, 1, 1, 24, 1)).toBeUndefined();
  });
});

describe('luxon formats', () => {
  const formats = [
    'dd.MM.yyyy HH:mm',
    'd.M.yyyy H:mm',
    'MM/dd/yyyy hh:mm a',
    'M/d/yyyy h:mm:ss a',
    'yyyyMMddHHmm',
    "yyyy-MM-dd'T'HH:mm:ss.SSS",
    'dd/MM/yyyy',
    'yyyy-MM-dd HH:mm:ss',
  ];

  test.each(formats)('the compiled fast path agrees with luxon for %j', (format) => {
    const parse = timestampParser(format);
    let t = U(2023, 0, 1, 0, 7, 13, 250);
    for (let k = 0; k < 400; k++, t += 7_919_113) {
      const text = DateTime.fromMillis(t, { zone: 'UTC' }).toFormat(format);
      const viaLuxon = DateTime.fromFormat(text, format, { zone: 'UTC', locale: 'en-US' });
      const mine = parse(text);
      expect(mine).toEqual({ kind: 'local', ms: viaLuxon.toMillis() });
    }
    expect(parse('not a date').kind).toBe('error');
  });

  test('12-hour clock: 12 AM is midnight, 12 PM is noon; 13 PM is an error', () => {
    const p = timestampParser('MM/dd/yyyy hh:mm a');
    expect(p('01/02/2024 12:00 AM')).toEqual({ kind: 'local', ms: U(2024, 0, 2, 0) });
    expect(p('01/02/2024 12:30 pm')).toEqual({ kind: 'local', ms: U(2024, 0, 2, 12, 30) });
    expect(p('01/02/2024 13:00 PM').kind).toBe('error');
  });

  test('formats with month names or offsets go through luxon', () => {
    expect(timestampParser('dd MMM yyyy HH:mm')('05 Mar 2024 10:00')).toEqual({
      kind: 'local',
      ms: U(2024, 2, 5, 10),
    });
    expect(timestampParser("yyyy-MM-dd'T'HH:mmZZ")('2024-03-05T10:00+02:00')).toEqual({
      kind: 'instant',
      ms: U(2024, 2, 5, 8),
    });
  });

  test('checkLuxonFormat refuses formats that do not name a full date', () => {
    expect(checkLuxonFormat('dd.MM.yyyy HH:mm')).toBeUndefined();
    expect(checkLuxonFormat('HH:mm')).toMatch(/full date/);
    expect(checkLuxonFormat('MM/yyyy')).toMatch(/full date/);
  });
});

describe('LocalTimeResolver', () => {
  const berlin = new LocalTimeResolver(IANAZone.create('Europe/Berlin'));

  test('Europe/Berlin: a gap in spring, a repeat in autumn', () => {
    expect(berlin.resolve(U(2024, 2, 31, 1, 59))).toEqual({
      kind: 'unique',
      ms: U(2024, 2, 31, 0, 59),
    });
    expect(berlin.resolve(U(2024, 2, 31, 2, 0))).toEqual({ kind: 'nonexistent' });
    expect(berlin.resolve(U(2024, 2, 31, 2, 59))).toEqual({ kind: 'nonexistent' });
    expect(berlin.resolve(U(2024, 2, 31, 3, 0))).toEqual({
      kind: 'unique',
      ms: U(2024, 2, 31, 1, 0),
    });
    expect(berlin.resolve(U(2024, 9, 27, 1, 59))).toEqual({
      kind: 'unique',
      ms: U(2024, 9, 26, 23, 59),
    });
    expect(berlin.resolve(U(2024, 9, 27, 2, 0))).toEqual({
      kind: 'ambiguous',
      earlier: U(2024, 9, 27, 0, 0),
      later: U(2024, 9, 27, 1, 0),
    });
    expect(berlin.resolve(U(2024, 9, 27, 3, 0))).toEqual({
      kind: 'unique',
      ms: U(2024, 9, 27, 2, 0),
    });
  });

  test('agrees with luxon for every quarter hour of a year in several zones', () => {
    for (const name of [
      'America/New_York',
      'Australia/Lord_Howe',
      'America/Sao_Paulo',
      'Asia/Kolkata',
    ]) {
      const zone = IANAZone.create(name);
      const r = new LocalTimeResolver(zone);
      // every instant of 2018 maps to a local time that resolves back to it (or to a pair containing it)
      for (let t = U(2018, 0, 1); t < U(2019, 0, 1); t += 900_000) {
        const local = t + zone.offset(t) * 60_000;
        const res = r.resolve(local);
        if (res.kind === 'unique') expect(res.ms).toBe(t);
        else if (res.kind === 'ambiguous') expect([res.earlier, res.later]).toContain(t);
        else throw new Error(`${name}: ${new Date(t).toISOString()} resolved to nothing`);
      }
    }
  });

  test('day bounds: 23, 24 and 25 hour days; a midnight that does not exist', () => {
    const ny = new LocalTimeResolver(IANAZone.create('America/New_York'));
    expect(ny.dayBounds(U(2024, 2, 10))).toEqual({ start: U(2024, 2, 10, 5), ms: 23 * 3_600_000 });
    expect(ny.dayBounds(U(2024, 10, 3))).toEqual({ start: U(2024, 10, 3, 4), ms: 25 * 3_600_000 });
    expect(ny.dayBounds(U(2024, 10, 4))).toEqual({ start: U(2024, 10, 4, 5), ms: 24 * 3_600_000 });
    // Brazil started DST at midnight on 2018-11-04: the day began at 01:00 local (03:00Z).
    const sp = new LocalTimeResolver(IANAZone.create('America/Sao_Paulo'));
    expect(sp.dayBounds(U(2018, 10, 4))).toEqual({ start: U(2018, 10, 4, 3), ms: 23 * 3_600_000 });
  });

  test('zones: UTC, fixed offsets, IANA names; nonsense is undefined', () => {
    expect(parseTimeZone('UTC')?.offset(0)).toBe(0);
    expect(parseTimeZone('+05:30')?.offset(0)).toBe(330);
    expect(parseTimeZone('-0800')?.offset(0)).toBe(-480);
    expect(parseTimeZone('Europe/Berlin')?.name).toBe('Europe/Berlin');
    expect(parseTimeZone('Mars/Olympus')).toBeUndefined();
    expect(parseTimeZone('+25:00')).toBeUndefined();
  });
});
