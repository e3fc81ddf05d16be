/**
 * CSV mapping profiles: a JSON description of how a head-end's CSV export maps onto readings
 * (docs/formats-headend.md). Profiles are validated on load by hand-written checks that name
 * every problem with its path, so a typo fails before any file is read.
 */
import { readFile } from 'node:fs/promises';
import { ErrorCode, MeterdataError } from '../../errors';
import { isQualityCode, parseEnergyUnit } from '../../domain/channel';
import meterdataProfileJson from './profiles/meterdata.json';
import { checkLuxonFormat, formatHasOffset, parseTimeZone } from './time';

/** A column by header name (matched trimmed, case-insensitive) or by 0-based position. */
export type ColumnRef = string | number;
export type ChannelName = 'delivered' | 'received';
export type PowerUnit = 'W' | 'kW' | 'MW';

export interface CsvColumns {
  meter?: ColumnRef;
  channel?: ColumnRef | { constant: ChannelName };
  /** long layout: the interval's timestamp (or `date` + `time`) */
  timestamp?: ColumnRef;
  /** wide layout: the local day of the row; long layout: the date part joined with `time` */
  date?: ColumnRef;
  time?: ColumnRef;
  /** long layout */
  value?: ColumnRef;
  unit?: ColumnRef | { constant: string };
  quality?: ColumnRef;
  intervalSeconds?: ColumnRef | { constant: number };
}

export interface CsvProfile {
  name?: string;
  description?: string;
  /** `long`: one row per interval (default); `wide`: one row per meter-day */
  layout?: 'long' | 'wide';
  hasHeader?: boolean;
  delimiter?: ',' | ';' | '\t' | '|';
  decimalSeparator?: '.' | ',';
  /** physical lines skipped before the header (or the first row): report preambles */
  skipRows?: number;
  columns: CsvColumns;
  /** several identity columns joined into the meter serial (instead of columns.meter) */
  meterColumns?: { columns: ColumnRef[]; separator?: string };
  /** wide layout: the first interval column and how many there are (100 covers DST days) */
  intervalColumns?: { from: ColumnRef; count: number };
  /** 'iso' (default), 'epoch_s', 'epoch_ms' or a luxon format such as 'dd.MM.yyyy HH:mm' */
  timestampFormat?: string;
  timestampConvention?: 'interval_start' | 'interval_end';
  /** 'UTC', '+01:00' or an IANA zone; absent: every timestamp must carry its offset */
  timeZone?: string;
  ambiguousTime?: 'reject' | 'earlier' | 'later' | 'order';
  nonexistentTime?: 'reject';
  valueKind?: 'energy' | 'average_power';
  /** label → channel, case-insensitive ('delivered' and 'received' are always understood) */
  channelMap?: Record<string, ChannelName>;
  /** label → ESPI quality code, case-insensitive (numeric ESPI codes are always understood) */
  qualityMap?: Record<string, number>;
  defaultIntervalSeconds?: number;
  rowOrder?: 'any' | 'oldest_first' | 'newest_first';
}

/** A validated profile with every default filled in. */
export interface ResolvedCsvProfile extends Required<
  Omit<CsvProfile, 'timeZone' | 'meterColumns' | 'intervalColumns' | 'defaultIntervalSeconds'>
> {
  timeZone: string | undefined;
  meterColumns: { columns: ColumnRef[]; separator: string } | undefined;
  intervalColumns: { from: ColumnRef; count: number } | undefined;
  defaultIntervalSeconds: number | undefined;
  rowOrder: 'any' | 'oldest_first' | 'newest_first';
}

const TOP_KEYS = [
  'name',
  'description',
  'layout',
  'hasHeader',
  'delimiter',
  'decimalSeparator',
  'skipRows',
  'columns',
  'meterColumns',
  'intervalColumns',
  'timestampFormat',
  'timestampConvention',
  'timeZone',
  'ambiguousTime',
  'nonexistentTime',
  'valueKind',
  'channelMap',
  'qualityMap',
  'defaultIntervalSeconds',
  'rowOrder',
] as const;
const COLUMN_KEYS = [
  'meter',
  'channel',
  'timestamp',
  'date',
  'time',
  'value',
  'unit',
  'quality',
  'intervalSeconds',
] as const;

const POWER_UNITS: Record<string, PowerUnit> = { w: 'W', kw: 'kW', mw: 'MW' };

export function parsePowerUnit(raw: string): PowerUnit | undefined {
  return POWER_UNITS[raw.trim().toLowerCase()];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isConstant(v: unknown): v is { constant: unknown } {
  return isObject(v) && 'constant' in v;
}

/**
 * Validates a parsed profile and fills in defaults. Throws BAD_USER_INPUT listing every
 * problem (`details.errors`), each prefixed with its path in the profile.
 */
/** Profiles this module produced: already valid, never validated twice. */
const RESOLVED = new WeakSet<object>();

export function validateCsvProfile(input: unknown, source = 'profile'): ResolvedCsvProfile {
  const errors: string[] = [];
  const err = (path: string, msg: string) => errors.push(`${path}: ${msg}`);
  if (!isObject(input)) {
    throw new MeterdataError(ErrorCode.BAD_USER_INPUT, `${source} must be a JSON object`);
  }
  const p = input;
  for (const k of Object.keys(p)) {
    if (!(TOP_KEYS as readonly string[]).includes(k)) {
      err(k, `unknown field (allowed: ${TOP_KEYS.join(', ')})`);
    }
  }

  const oneOf = <T extends string>(key: string, allowed: readonly T[], dflt: T): T => {
    const v = p[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      err(key, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
      return dflt;
    }
    return v as T;
  };
  const str = (key: string): string | undefined => {
    const v = p[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !v.trim()) {
      err(key, 'must be a non-empty string');
      return undefined;
    }
    return v;
  };
  const int = (path: string, v: unknown, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      err(path, `must be an integer from ${min} to ${max}`);
      return undefined;
    }
    return v;
  };

  const name = str('name') ?? 'custom';
  let description = '';
  if (p.description !== undefined) {
    if (typeof p.description !== 'string') err('description', 'must be a string');
    else description = p.description;
  }
  const layout = oneOf('layout', ['long', 'wide'] as const, 'long');
  let hasHeader = true;
  if (p.hasHeader !== undefined) {
    if (typeof p.hasHeader !== 'boolean') err('hasHeader', 'must be true or false');
    else hasHeader = p.hasHeader;
  }
  const delimiter = oneOf('delimiter', [',', ';', '\t', '|'] as const, ',');
  const decimalSeparator = oneOf('decimalSeparator', ['.', ','] as const, '.');
  if (decimalSeparator === ',' && delimiter !== ';' && delimiter !== '\t') {
    err('decimalSeparator', 'a decimal comma needs a ";" or tab delimiter');
  }
  const skipRows = int('skipRows', p.skipRows, 0, 1000) ?? 0;
  const timestampFormat = str('timestampFormat') ?? 'iso';
  if (!['iso', 'epoch_s', 'epoch_ms'].includes(timestampFormat)) {
    const problem = checkLuxonFormat(timestampFormat);
    if (problem)
      err('timestampFormat', `${problem}; use "iso", "epoch_s", "epoch_ms" or a luxon format`);
  }
  const timestampConvention = oneOf(
    'timestampConvention',
    ['interval_start', 'interval_end'] as const,
    'interval_start',
  );
  const timeZone = str('timeZone');
  if (timeZone !== undefined && !parseTimeZone(timeZone)) {
    err(
      'timeZone',
      `${JSON.stringify(timeZone)} is not "UTC", a fixed offset like "+01:00" or an IANA zone`,
    );
  }
  const ambiguousTime = oneOf(
    'ambiguousTime',
    ['reject', 'earlier', 'later', 'order'] as const,
    'reject',
  );
  const nonexistentTime = oneOf('nonexistentTime', ['reject'] as const, 'reject');
  const valueKind = oneOf('valueKind', ['energy', 'average_power'] as const, 'energy');
  const explicitOrder = p.rowOrder !== undefined;
  let rowOrder = oneOf('rowOrder', ['any', 'oldest_first', 'newest_first'] as const, 'any');
  if (ambiguousTime === 'order') {
    if (explicitOrder && rowOrder === 'any') {
      err('ambiguousTime', '"order" needs rowOrder "oldest_first" or "newest_first", not "any"');
    }
    if (!explicitOrder) rowOrder = 'oldest_first';
  }
  const defaultIntervalSeconds = int('defaultIntervalSeconds', p.defaultIntervalSeconds, 1, 86400);

  // Columns
  const columns: CsvColumns = {};
  const ref = (path: string, v: unknown): ColumnRef | undefined => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0 || v > 100_000) {
        err(path, 'a column position must be an integer ≥ 0 (0 is the first column)');
        return undefined;
      }
      return v;
    }
    if (typeof v === 'string' && v.trim()) {
      if (!hasHeader) {
        err(
          path,
          `hasHeader is false: refer to columns by 0-based position, not by name ${JSON.stringify(v)}`,
        );
        return undefined;
      }
      return v;
    }
    err(path, 'must be a header name or a 0-based column position');
    return undefined;
  };
  if (!isObject(p.columns)) {
    err('columns', 'is required: an object naming the columns (see docs/formats-headend.md)');
  } else {
    const c = p.columns;
    for (const k of Object.keys(c)) {
      if (!(COLUMN_KEYS as readonly string[]).includes(k)) {
        err(`columns.${k}`, `unknown column role (allowed: ${COLUMN_KEYS.join(', ')})`);
      }
    }
    for (const k of ['meter', 'timestamp', 'date', 'time', 'value', 'quality'] as const) {
      if (c[k] !== undefined) {
        if (isConstant(c[k])) err(`columns.${k}`, 'cannot be a constant');
        else columns[k] = ref(`columns.${k}`, c[k]);
      }
    }
    if (c.channel === undefined) {
      err(
        'columns.channel',
        'is required: a column, or {"constant": "delivered"} for single-channel files',
      );
    } else if (isConstant(c.channel)) {
      const v = c.channel.constant;
      if (v !== 'delivered' && v !== 'received') {
        err('columns.channel.constant', 'must be "delivered" or "received"');
      } else columns.channel = { constant: v };
    } else columns.channel = ref('columns.channel', c.channel);
    if (c.unit === undefined) {
      err('columns.unit', 'is required: a column, or {"constant": "kWh"}');
    } else if (isConstant(c.unit)) {
      const v = c.unit.constant;
      const ok =
        typeof v === 'string' &&
        (valueKind === 'energy'
          ? parseEnergyUnit(v) !== undefined
          : parsePowerUnit(v) !== undefined);
      if (!ok) {
        err(
          'columns.unit.constant',
          valueKind === 'energy'
            ? 'must be Wh, kWh or MWh (for W, kW or MW set valueKind "average_power")'
            : 'must be W, kW or MW with valueKind "average_power"',
        );
      } else columns.unit = { constant: v };
    } else columns.unit = ref('columns.unit', c.unit);
    if (c.intervalSeconds !== undefined) {
      if (isConstant(c.intervalSeconds)) {
        const v = int('columns.intervalSeconds.constant', c.intervalSeconds.constant, 1, 86400);
        if (v !== undefined) columns.intervalSeconds = { constant: v };
      } else columns.intervalSeconds = ref('columns.intervalSeconds', c.intervalSeconds);
    } else if (defaultIntervalSeconds === undefined) {
      err(
        'columns.intervalSeconds',
        'is required (a column or a constant), or set defaultIntervalSeconds',
      );
    }
  }

  let meterColumns: ResolvedCsvProfile['meterColumns'];
  if (p.meterColumns !== undefined) {
    const m = p.meterColumns;
    if (!isObject(m) || !Array.isArray(m.columns) || m.columns.length < 1) {
      err('meterColumns', 'must be {"columns": [...], "separator": "-"} with at least one column');
    } else {
      if (m.separator !== undefined && typeof m.separator !== 'string') {
        err('meterColumns.separator', 'must be a string');
      }
      const cols = m.columns.map((v, i) => ref(`meterColumns.columns[${i}]`, v));
      if (cols.every((x) => x !== undefined)) {
        meterColumns = {
          columns: cols,
          separator: typeof m.separator === 'string' ? m.separator : '',
        };
      }
      if (columns.meter !== undefined)
        err('meterColumns', 'use either columns.meter or meterColumns');
    }
  }

  let intervalColumns: ResolvedCsvProfile['intervalColumns'];
  if (layout === 'wide') {
    if (columns.date === undefined) err('columns.date', 'is required in the wide layout');
    for (const k of ['timestamp', 'time', 'value'] as const) {
      if (columns[k] !== undefined) {
        err(`columns.${k}`, 'is not used in the wide layout (values are in intervalColumns)');
      }
    }
    const ic = p.intervalColumns;
    if (!isObject(ic)) {
      err(
        'intervalColumns',
        'is required in the wide layout: {"from": <first column>, "count": 100}',
      );
    } else {
      const from = ref('intervalColumns.from', ic.from);
      const count = int('intervalColumns.count', ic.count, 1, 2000);
      if (from !== undefined && count !== undefined) intervalColumns = { from, count };
    }
    if (timestampFormat === 'epoch_s' || timestampFormat === 'epoch_ms') {
      err('timestampFormat', 'the wide layout needs a date format ("iso" or e.g. "dd.MM.yyyy")');
    }
    if (timeZone === undefined) {
      err(
        'timeZone',
        'is required in the wide layout: the local day decides which interval each column is',
      );
    }
  } else {
    if (p.intervalColumns !== undefined) err('intervalColumns', 'is only for the wide layout');
    const split = columns.date !== undefined || columns.time !== undefined;
    if (columns.timestamp === undefined && !split) {
      err('columns.timestamp', 'is required (or columns.date and columns.time)');
    }
    if (split && (columns.date === undefined || columns.time === undefined)) {
      err('columns.date', 'columns.date and columns.time go together');
    }
    if (split && columns.timestamp !== undefined) {
      err('columns.timestamp', 'use either columns.timestamp or columns.date + columns.time');
    }
    if (columns.value === undefined) err('columns.value', 'is required');
  }
  const local =
    timestampFormat === 'iso' ||
    (!['epoch_s', 'epoch_ms'].includes(timestampFormat) && !formatHasOffset(timestampFormat));
  if (timeZone === undefined && local && timestampFormat !== 'iso' && layout === 'long') {
    err('timeZone', `is required: the format ${JSON.stringify(timestampFormat)} carries no offset`);
  }

  const channelMap: Record<string, ChannelName> = {};
  if (p.channelMap !== undefined) {
    if (!isObject(p.channelMap))
      err('channelMap', 'must be an object of label → "delivered" | "received"');
    else {
      for (const [label, ch] of Object.entries(p.channelMap)) {
        if (ch !== 'delivered' && ch !== 'received') {
          err(`channelMap.${label}`, 'must be "delivered" or "received"');
        } else channelMap[label] = ch;
      }
    }
  }
  const qualityMap: Record<string, number> = {};
  if (p.qualityMap !== undefined) {
    if (!isObject(p.qualityMap))
      err('qualityMap', 'must be an object of label → ESPI quality code');
    else {
      for (const [label, q] of Object.entries(p.qualityMap)) {
        if (typeof q !== 'number' || !isQualityCode(q)) {
          err(
            `qualityMap.${label}`,
            'must be an ESPI quality code (0 valid, 7 edited, 8 estimated, …)',
          );
        } else qualityMap[label] = q;
      }
    }
  }

  if (errors.length) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `invalid CSV ${source}: ${errors.join('; ')}`,
      { details: { errors } },
    );
  }
  const resolved: ResolvedCsvProfile = {
    name,
    description,
    layout,
    hasHeader,
    delimiter,
    decimalSeparator,
    skipRows,
    columns,
    meterColumns,
    intervalColumns,
    timestampFormat,
    timestampConvention,
    timeZone,
    ambiguousTime,
    nonexistentTime,
    valueKind,
    channelMap,
    qualityMap,
    defaultIntervalSeconds,
    rowOrder,
  };
  RESOLVED.add(resolved);
  return resolved;
}

/** Parses and validates a profile from JSON text. */
export function parseCsvProfile(json: string, source = 'profile'): ResolvedCsvProfile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (cause) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `${source} is not valid JSON: ${(cause as Error).message}`,
      { cause },
    );
  }
  return validateCsvProfile(parsed, source);
}

/** Profiles shipped with meterdata, by name. */
export const BUILTIN_PROFILES: Readonly<Record<string, ResolvedCsvProfile>> = {
  meterdata: validateCsvProfile(meterdataProfileJson, 'built-in profile meterdata'),
};

/** The documented default layout (docs/formats-headend.md): used when no profile is given. */
export const DEFAULT_CSV_PROFILE: ResolvedCsvProfile = BUILTIN_PROFILES.meterdata!;

/** A built-in profile by name, or a JSON profile file by path. */
export async function loadCsvProfile(nameOrPath: string): Promise<ResolvedCsvProfile> {
  const builtin = BUILTIN_PROFILES[nameOrPath];
  if (builtin) return builtin;
  let text: string;
  try {
    text = await readFile(nameOrPath, 'utf8');
  } catch (cause) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `CSV profile ${JSON.stringify(nameOrPath)} is neither a built-in profile (${Object.keys(BUILTIN_PROFILES).join(', ')}) nor a readable file`,
      { cause },
    );
  }
  return parseCsvProfile(text, `profile ${nameOrPath}`);
}

/** Accepts a raw or already-resolved profile. */
export function resolveCsvProfile(profile: CsvProfile | ResolvedCsvProfile): ResolvedCsvProfile {
  if (RESOLVED.has(profile)) return profile as ResolvedCsvProfile;
  return validateCsvProfile(profile);
}
