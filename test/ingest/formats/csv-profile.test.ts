import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode } from '../../../src/errors';
import {
  BUILTIN_PROFILES,
  DEFAULT_CSV_PROFILE,
  loadCsvProfile,
  parseCsvProfile,
  validateCsvProfile,
} from '../../../src/ingest/formats/csv-profile';
import { parserFor } from '../../../src/ingest/formats/types';
import { FIXTURES } from './helpers';

function errorsOf(profile: unknown): string[] {
  try {
    validateCsvProfile(profile);
  } catch (e) {
    const err = e as { code: string; details?: { errors?: string[] }; message: string };
    expect(err.code).toBe(ErrorCode.BAD_USER_INPUT);
    return err.details?.errors ?? [err.message];
  }
  return [];
}

const minimal = {
  columns: {
    meter: 'm',
    channel: { constant: 'delivered' },
    timestamp: 't',
    value: 'v',
    unit: { constant: 'kWh' },
    intervalSeconds: { constant: 900 },
  },
};

describe('CSV profiles', () => {
  test('the built-in meterdata profile is the documented default layout', () => {
    expect(DEFAULT_CSV_PROFILE).toBe(BUILTIN_PROFILES.meterdata);
    expect(DEFAULT_CSV_PROFILE).toMatchObject({
      name: 'meterdata',
      layout: 'long',
      hasHeader: true,
      delimiter: ',',
      decimalSeparator: '.',
      timestampFormat: 'iso',
      timestampConvention: 'interval_start',
      timeZone: undefined, // every timestamp must carry its offset
      columns: {
        meter: 'meter_serial',
        channel: 'channel',
        timestamp: 'interval_start',
        intervalSeconds: 'interval_seconds',
        value: 'value',
        unit: 'unit',
      },
    });
  });

  test('the worked examples validate', () => {
    for (const f of fs.readdirSync(FIXTURES).filter((n) => n.endsWith('.profile.json'))) {
      expect(() =>
        parseCsvProfile(fs.readFileSync(path.join(FIXTURES, f), 'utf8'), f),
      ).not.toThrow();
    }
  });

  test('defaults are filled in', () => {
    expect(validateCsvProfile(minimal)).toMatchObject({
      layout: 'long',
      hasHeader: true,
      delimiter: ',',
      decimalSeparator: '.',
      skipRows: 0,
      timestampFormat: 'iso',
      timestampConvention: 'interval_start',
      ambiguousTime: 'reject',
      nonexistentTime: 'reject',
      valueKind: 'energy',
      rowOrder: 'any',
    });
    expect(validateCsvProfile({ ...minimal, ambiguousTime: 'order' }).rowOrder).toBe(
      'oldest_first',
    );
  });

  test.each<[string, unknown, RegExp]>([
    ['not an object', [], /must be a JSON object/],
    ['an unknown field', { ...minimal, timezone: 'UTC' }, /^timezone: unknown field/],
    [
      'an unknown column role',
      { ...minimal, columns: { ...minimal.columns, kwh: 'x' } },
      /columns\.kwh: unknown column role/,
    ],
    ['a bad delimiter', { ...minimal, delimiter: ':' }, /^delimiter: must be one of/],
    [
      'a decimal comma in a comma file',
      { ...minimal, decimalSeparator: ',' },
      /^decimalSeparator: a decimal comma needs/,
    ],
    [
      'a bad time zone',
      { ...minimal, timeZone: 'Mars/Olympus' },
      /^timeZone: "Mars\/Olympus" is not/,
    ],
    [
      'a format without a date',
      { ...minimal, timestampFormat: 'HH:mm', timeZone: 'UTC' },
      /^timestampFormat: .*full date/,
    ],
    [
      'a local format without a zone',
      { ...minimal, timestampFormat: 'dd.MM.yyyy HH:mm' },
      /^timeZone: is required: the format/,
    ],
    [
      'names without a header',
      { ...minimal, hasHeader: false },
      /^columns\.meter: hasHeader is false/,
    ],
    [
      'no channel',
      { columns: { ...minimal.columns, channel: undefined } },
      /^columns\.channel: is required/,
    ],
    [
      'a bad channel constant',
      { columns: { ...minimal.columns, channel: { constant: 'net' } } },
      /columns\.channel\.constant/,
    ],
    [
      'a power unit with energy',
      { columns: { ...minimal.columns, unit: { constant: 'kW' } } },
      /average_power/,
    ],
    [
      'an energy unit with power',
      { ...minimal, valueKind: 'average_power' },
      /must be W, kW or MW/,
    ],
    [
      'no interval length',
      { columns: { ...minimal.columns, intervalSeconds: undefined } },
      /defaultIntervalSeconds/,
    ],
    [
      'a bad interval constant',
      { columns: { ...minimal.columns, intervalSeconds: { constant: 0 } } },
      /from 1 to 86400/,
    ],
    [
      'order with rowOrder any',
      { ...minimal, ambiguousTime: 'order', rowOrder: 'any' },
      /needs rowOrder/,
    ],
    [
      'nonexistentTime other than reject',
      { ...minimal, nonexistentTime: 'shift' },
      /^nonexistentTime/,
    ],
    ['a bad quality code', { ...minimal, qualityMap: { X: 5 } }, /^qualityMap\.X/],
    ['a bad channelMap target', { ...minimal, channelMap: { NET: 'net' } }, /^channelMap\.NET/],
    [
      'meter twice',
      { ...minimal, meterColumns: { columns: ['a', 'b'] } },
      /either columns\.meter or meterColumns/,
    ],
    [
      'a negative position',
      { columns: { ...minimal.columns, value: -1 } },
      /columns\.value: a column position/,
    ],
    [
      'timestamp and date+time',
      { columns: { ...minimal.columns, date: 'd', time: 't2' } },
      /either columns\.timestamp or/,
    ],
    [
      'date without time',
      { columns: { ...minimal.columns, timestamp: undefined, date: 'd' } },
      /go together/,
    ],
    [
      'wide without its parts',
      { ...minimal, layout: 'wide' },
      /columns\.date: is required in the wide layout/,
    ],
    [
      'wide with epoch dates',
      { ...minimal, layout: 'wide', timestampFormat: 'epoch_s' },
      /wide layout needs a date format/,
    ],
  ])('%s is refused with its path', (_what, profile, message) => {
    const errors = errorsOf(profile);
    expect(errors.some((e) => message.test(e))).toBe(true);
  });

  test('validating a validated profile changes nothing', () => {
    for (const raw of [minimal, { ...minimal, ambiguousTime: 'order' }, DEFAULT_CSV_PROFILE]) {
      const once = validateCsvProfile(raw);
      expect(validateCsvProfile(once)).toEqual(once);
    }
  });

  test('every problem is listed at once', () => {
    const errors = errorsOf({ delimiter: 'x', layout: 'tall', columns: {} });
    expect(errors.length).toBeGreaterThanOrEqual(5);
  });

  test('a wide layout needs a zone, a date and its interval columns', () => {
    const wide = {
      layout: 'wide',
      timeZone: 'America/Chicago',
      columns: {
        meter: 'm',
        channel: { constant: 'delivered' },
        date: 'd',
        unit: { constant: 'kWh' },
        intervalSeconds: { constant: 900 },
      },
      intervalColumns: { from: 'H1', count: 100 },
    };
    expect(errorsOf(wide)).toEqual([]);
    expect(errorsOf({ ...wide, timeZone: undefined }).join()).toMatch(
      /timeZone: is required in the wide layout/,
    );
    expect(errorsOf({ ...wide, intervalColumns: undefined }).join()).toMatch(
      /intervalColumns: is required/,
    );
  });

  test('JSON text and files; built-in names', async () => {
    expect(() => parseCsvProfile('{ nope')).toThrow(/not valid JSON/);
    expect(await loadCsvProfile('meterdata')).toBe(DEFAULT_CSV_PROFILE);
    const file = path.join(os.tmpdir(), `md-profile-${process.pid}.json`);
    fs.writeFileSync(file, JSON.stringify(minimal));
    try {
      expect((await loadCsvProfile(file)).columns.meter).toBe('m');
    } finally {
      fs.unlinkSync(file);
    }
    await expect(loadCsvProfile('/nonexistent/profile.json')).rejects.toThrow(
      /neither a built-in profile/,
    );
  });

  test('parserFor validates the profile before reading, and refuses it for other formats', () => {
    expect(() => parserFor('csv', { columns: {} })).toThrow(/invalid CSV profile/);
    expect(() => parserFor('cmep', minimal as never)).toThrow(/does not apply/);
  });
});
