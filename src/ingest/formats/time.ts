/**
 * Timestamps in head-end files: parsing wall-clock or offset-carrying text, and turning a local
 * wall-clock time into an instant in a zone — where a spring-forward time does not exist and a
 * fall-back time happens twice, both reported rather than silently shifted.
 */
import { DateTime, FixedOffsetZone, IANAZone, type Zone } from 'luxon';

// ---------------------------------------------------------------------------------------------
// Zones

const FIXED_OFFSET_RE = /^([+-])(\d{2}):?(\d{2})$/;

/** 'UTC', a fixed offset ('+01:00', '-0800') or an IANA zone name; undefined when unknown. */
export function parseTimeZone(spec: string): Zone | undefined {
  const s = spec.trim();
  if (s === 'UTC' || s === 'Z' || s === 'utc') return FixedOffsetZone.utcInstance;
  const m = FIXED_OFFSET_RE.exec(s);
  if (m) {
    const h = Number(m[2]);
    const min = Number(m[3]);
    if (h > 14 || min > 59) return undefined;
    const sign = m[1] === '-' ? -1 : 1;
    return FixedOffsetZone.instance(sign * (h * 60 + min));
  }
  return IANAZone.isValidZone(s) ? IANAZone.create(s) : undefined;
}

export type LocalResolution =
  | { kind: 'unique'; ms: number }
  | { kind: 'nonexistent' }
  | { kind: 'ambiguous'; earlier: number; later: number };

const BUCKET_MS = 15 * 60_000;
const CACHE_MAX = 100_000;
const HOUR_MS = 3_600_000;

/**
 * Resolves local wall-clock times (epoch ms as if the wall clock were UTC) in one zone. Luxon's
 * offset look-ups are slow (Intl), so offsets are cached per 15-minute bucket when the bucket
 * has no transition in it, and resolutions per local time; both caches are bounded.
 */
export class LocalTimeResolver {
  private readonly fixed: number | undefined;
  private readonly offsets = new Map<number, number>();
  private readonly resolved = new Map<number, LocalResolution>();

  constructor(private readonly zone: Zone) {
    this.fixed = zone.isUniversal ? zone.offset(0) : undefined;
  }

  /** The zone's offset in minutes at instant `ms`. */
  offsetAt(ms: number): number {
    if (this.fixed !== undefined) return this.fixed;
    const bucket = Math.floor(ms / BUCKET_MS);
    const hit = this.offsets.get(bucket);
    if (hit !== undefined) return hit;
    const a = this.zone.offset(bucket * BUCKET_MS);
    const b = this.zone.offset(bucket * BUCKET_MS + BUCKET_MS - 1);
    if (a !== b) return this.zone.offset(ms); // a transition inside the bucket: no caching
    if (this.offsets.size >= CACHE_MAX) this.offsets.clear();
    this.offsets.set(bucket, a);
    return a;
  }

  resolve(localMs: number): LocalResolution {
    if (this.fixed !== undefined) return { kind: 'unique', ms: localMs - this.fixed * 60_000 };
    const hit = this.resolved.get(localMs);
    if (hit) return hit;
    // The instant lies within a day of the wall-clock value; real zones change offset at most
    // once in two days, so the offsets a day either side are the only candidates.
    const o1 = this.offsetAt(localMs - 24 * HOUR_MS);
    const o2 = this.offsetAt(localMs + 24 * HOUR_MS);
    const u1 = localMs - o1 * 60_000;
    const u2 = localMs - o2 * 60_000;
    const v1 = this.offsetAt(u1) === o1;
    const v2 = o1 !== o2 && this.offsetAt(u2) === o2;
    let r: LocalResolution;
    if (v1 && v2) r = { kind: 'ambiguous', earlier: Math.min(u1, u2), later: Math.max(u1, u2) };
    else if (v1) r = { kind: 'unique', ms: u1 };
    else if (v2) r = { kind: 'unique', ms: u2 };
    else r = { kind: 'nonexistent' };
    if (this.resolved.size >= CACHE_MAX) this.resolved.clear();
    this.resolved.set(localMs, r);
    return r;
  }

  /**
   * The first instant of a local calendar day and the day's length in ms (23, 24 or 25 hours
   * around DST changes). A midnight that does not exist starts the day at the transition.
   */
  dayBounds(localMidnight: number): { start: number; ms: number } {
    const start = this.dayStart(localMidnight);
    return { start, ms: this.dayStart(localMidnight + 24 * HOUR_MS) - start };
  }

  private dayStart(localMidnight: number): number {
    const r = this.resolve(localMidnight);
    switch (r.kind) {
      case 'unique':
        return r.ms;
      case 'ambiguous':
        return r.earlier;
      case 'nonexistent':
        // The clock jumped over midnight: the day starts at the jump, when the offset in force
        // just before it reaches midnight.
        return localMidnight - this.offsetAt(localMidnight - 24 * HOUR_MS) * 60_000;
      default: {
        const never: never = r;
        throw new Error(`unexpected resolution ${String(never)}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** A parsed timestamp: an instant (it carried an offset) or a wall-clock time to resolve. */
export type ParsedTime =
  | { kind: 'instant'; ms: number }
  | { kind: 'local'; ms: number }
  | { kind: 'error'; message: string };

export type TimestampParser = (raw: string) => ParsedTime;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  if (month === 2 && ((year % 4 === 0 && year % 100 !== 0) || year % 400 === 0)) return 29;
  return DAYS_IN_MONTH[month - 1]!;
}

/**
 * Wall-clock fields to epoch ms (as if UTC), or undefined when out of range. Hour 24 is
 * accepted at :00 only (the end of the day, as interval-end exports write it).
 */
export function wallClockMs(
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
  second = 0,
  ms = 0,
): number | undefined {
  if (ms > 999 || (hour === 24 && ms)) return undefined;
  const seconds = wallClockSeconds(year, month, day, hour, minute, second);
  return seconds === seconds ? seconds * 1000 + ms : undefined;
}

/**
 * Wall-clock fields to epoch seconds (as if UTC), or NaN when out of range (see wallClockMs).
 * Seconds rather than ms: until 2038 they are small integers, which a caller on the path of
 * every row gets without a number allocated for each.
 */
function wallClockSeconds(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number {
  if (year < 1 || year > 9999 || month < 1 || month > 12) return NaN;
  if (day < 1 || day > daysIn(year, month)) return NaN;
  if (minute > 59 || second > 59) return NaN;
  if (hour > 24 || (hour === 24 && (minute || second))) return NaN;
  // Integer arithmetic rather than Date.UTC: it runs for every timestamp of a file, and it
  // needs no correction for years 0-99 (which Date.UTC maps to 1900-1999).
  return daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * ISO 8601 (extended) date or date-time: `2024-03-10`, `2024-03-10T02:30`, with seconds and a
 * fraction, a space instead of T, and an optional offset (`Z`, `+01:00`, `+0100`, `+01`).
 */
export function parseIsoTimestamp(raw: string): ParsedTime {
  const fast = canonicalInstant(raw);
  if (fast !== undefined) return { kind: 'instant', ms: fast };
  // Exports repeat the same few thousand timestamps for every meter: parse each once. The
  // result depends on the string only (zones are applied later), and is never mutated.
  const hit = isoCache.get(raw);
  if (hit) return hit;
  const parsed = parseIsoUncached(raw);
  if (isoCache.size >= ISO_CACHE_MAX) isoCache.clear();
  isoCache.set(raw, parsed);
  return parsed;
}

/** The number the two digits at `i` spell, or -1. */
function twoDigitsAt(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * The common shapes `YYYY-MM-DDTHH:MM:SSZ` and `YYYY-MM-DDTHH:MM:SS±HH:MM`, read from character
 * codes (no regex, no cache look-up): most exports write one of them on every row. Reads
 * `s` from `start` to `end` (a field inside a line, without slicing it out). Anything else, or
 * anything out of range, is undefined and goes the general way.
 */
export function canonicalInstant(s: string, start = 0, end = s.length): number | undefined {
  const seconds = canonicalInstantSeconds(s, start, end);
  return seconds === seconds ? seconds * 1000 : undefined;
}

/** canonicalInstant in epoch seconds, NaN for anything else (no number allocated per call). */
export function canonicalInstantSeconds(s: string, start = 0, end = s.length): number {
  const n = end - start;
  if (n !== 20 && n !== 25) return NaN;
  if (
    s.charCodeAt(start + 4) !== 45 || // -
    s.charCodeAt(start + 7) !== 45 ||
    s.charCodeAt(start + 10) !== 84 || // T
    s.charCodeAt(start + 13) !== 58 || // :
    s.charCodeAt(start + 16) !== 58
  ) {
    return NaN;
  }
  const century = twoDigitsAt(s, start);
  const yy = twoDigitsAt(s, start + 2);
  const month = twoDigitsAt(s, start + 5);
  const day = twoDigitsAt(s, start + 8);
  const hour = twoDigitsAt(s, start + 11);
  const minute = twoDigitsAt(s, start + 14);
  const second = twoDigitsAt(s, start + 17);
  if ((century | yy | month | day | hour | minute | second) < 0) return NaN;
  const year = century * 100 + yy;
  let offsetMinutes = 0;
  if (n === 20) {
    if (s.charCodeAt(start + 19) !== 90) return NaN; // Z
  } else {
    const sign = s.charCodeAt(start + 19);
    if ((sign !== 43 && sign !== 45) || s.charCodeAt(start + 22) !== 58) return NaN;
    const hours = twoDigitsAt(s, start + 20);
    const minutes = twoDigitsAt(s, start + 23);
    if ((hours | minutes) < 0) return NaN;
    offsetMinutes = hours * 60 + minutes;
    if (offsetMinutes > 14 * 60 || minutes > 59) return NaN;
    if (sign === 45) offsetMinutes = -offsetMinutes;
  }
  // Years before 100 are left to the general reading (which gives the same instant).
  if (year < 100) return NaN;
  return wallClockSeconds(year, month, day, hour, minute, second) - offsetMinutes * 60;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (integer arithmetic, no Date). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const isoCache = new Map<string, ParsedTime>();
const ISO_CACHE_MAX = 50_000;

function parseIsoUncached(raw: string): ParsedTime {
  const m = ISO_RE.exec(raw.trim());
  if (!m) return { kind: 'error', message: `${JSON.stringify(raw)} is not an ISO 8601 date-time` };
  const frac = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  const local = wallClockMs(
    Number(m[1]),
    Number(m[2]),
    Number(m[3]),
    m[4] === undefined ? 0 : Number(m[4]),
    m[5] === undefined ? 0 : Number(m[5]),
    m[6] === undefined ? 0 : Number(m[6]),
    Math.floor(frac),
  );
  if (local === undefined) {
    return { kind: 'error', message: `${JSON.stringify(raw)} is not a valid date-time` };
  }
  const off = m[8];
  if (off === undefined) return { kind: 'local', ms: local };
  if (off === 'Z') return { kind: 'instant', ms: local };
  const sign = off[0] === '-' ? -1 : 1;
  const digits = off.slice(1).replace(':', '');
  const minutes =
    Number(digits.slice(0, 2)) * 60 + (digits.length > 2 ? Number(digits.slice(2)) : 0);
  if (minutes > 14 * 60 || Number(digits.slice(2) || '0') > 59) {
    return { kind: 'error', message: `${JSON.stringify(raw)} has an invalid offset` };
  }
  return { kind: 'instant', ms: local - sign * minutes * 60_000 };
}

const EPOCH_S_RE = /^[+-]?\d{1,12}(\.\d{1,3})?$/;
const EPOCH_MS_RE = /^[+-]?\d{1,15}$/;

export function parseEpochSeconds(raw: string): ParsedTime {
  const s = raw.trim();
  if (!EPOCH_S_RE.test(s)) {
    return { kind: 'error', message: `${JSON.stringify(raw)} is not a Unix time in seconds` };
  }
  return { kind: 'instant', ms: Math.round(Number(s) * 1000) };
}

export function parseEpochMillis(raw: string): ParsedTime {
  const s = raw.trim();
  if (!EPOCH_MS_RE.test(s)) {
    return { kind: 'error', message: `${JSON.stringify(raw)} is not a Unix time in milliseconds` };
  }
  return { kind: 'instant', ms: Number(s) };
}

/** CMEP's CCYYMMDDHHMM (hour 24 allowed at :00, as end-of-day interval ends are written). */
export function parseCompactTimestamp(raw: string): number | undefined {
  const s = raw.length === 12 ? raw : raw.trim();
  if (s.length !== 12) return undefined;
  const century = twoDigitsAt(s, 0);
  const yy = twoDigitsAt(s, 2);
  const month = twoDigitsAt(s, 4);
  const day = twoDigitsAt(s, 6);
  const hour = twoDigitsAt(s, 8);
  const minute = twoDigitsAt(s, 10);
  if ((century | yy | month | day | hour | minute) < 0) return undefined;
  return wallClockMs(century * 100 + yy, month, day, hour, minute);
}

// Luxon format strings. The common numeric tokens are compiled into a regular expression (luxon's
// fromFormat manages about 40 000 strings a second, too slow for millions of rows); anything
// else goes through luxon itself, with a bounded cache since files repeat their timestamps.

type Field = 'year' | 'month' | 'day' | 'hour' | 'hour12' | 'minute' | 'second' | 'ms' | 'ampm';

const TOKENS: Array<[string, Field, string]> = [
  ['yyyy', 'year', '(\\d{4})'],
  ['MM', 'month', '(\\d{2})'],
  ['M', 'month', '(\\d{1,2})'],
  ['dd', 'day', '(\\d{2})'],
  ['d', 'day', '(\\d{1,2})'],
  ['HH', 'hour', '(\\d{2})'],
  ['H', 'hour', '(\\d{1,2})'],
  ['hh', 'hour12', '(\\d{2})'],
  ['h', 'hour12', '(\\d{1,2})'],
  ['mm', 'minute', '(\\d{2})'],
  ['m', 'minute', '(\\d{1,2})'],
  ['ss', 'second', '(\\d{2})'],
  ['s', 'second', '(\\d{1,2})'],
  ['SSS', 'ms', '(\\d{3})'],
  ['S', 'ms', '(\\d{1,3})'],
  ['a', 'ampm', '([AaPp][Mm])'],
];

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Compiles a luxon format of numeric tokens and literals; undefined when it has others. */
function compileFormat(format: string): ((raw: string) => ParsedTime) | undefined {
  let re = '^';
  const fields: Field[] = [];
  let i = 0;
  while (i < format.length) {
    const c = format[i]!;
    if (c === "'") {
      const close = format.indexOf("'", i + 1);
      if (close < 0) return undefined;
      re += escapeRe(format.slice(i + 1, close));
      i = close + 1;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      let run = 1;
      while (format[i + run] === c) run++;
      const token = format.slice(i, i + run);
      const t = TOKENS.find(([name]) => name === token);
      if (!t || fields.includes(t[1])) return undefined;
      fields.push(t[1]);
      re += t[2];
      i += run;
      continue;
    }
    re += escapeRe(c);
    i++;
  }
  if (fields.includes('hour12') !== fields.includes('ampm')) return undefined;
  if (fields.includes('hour') && fields.includes('hour12')) return undefined;
  if (!fields.includes('year') || !fields.includes('month') || !fields.includes('day')) {
    return undefined;
  }
  const rx = new RegExp(`${re}$`);
  return (raw: string): ParsedTime => {
    const m = rx.exec(raw.trim());
    const bad = (): ParsedTime => ({
      kind: 'error',
      message: `${JSON.stringify(raw)} does not match the timestamp format ${JSON.stringify(format)}`,
    });
    if (!m) return bad();
    const v: Partial<Record<Field, number>> = {};
    let pm = false;
    fields.forEach((f, k) => {
      const s = m[k + 1]!;
      if (f === 'ampm') pm = s.toLowerCase() === 'pm';
      else v[f] = Number(s);
    });
    let hour = v.hour ?? 0;
    if (v.hour12 !== undefined) {
      if (v.hour12 < 1 || v.hour12 > 12) return bad();
      hour = (v.hour12 % 12) + (pm ? 12 : 0);
    }
    const ms = wallClockMs(v.year!, v.month!, v.day!, hour, v.minute, v.second, v.ms);
    return ms === undefined ? bad() : { kind: 'local', ms };
  };
}

/** Whether a luxon format string carries an offset or zone token (outside quoted literals). */
export function formatHasOffset(format: string): boolean {
  return /[Zz]/.test(format.replace(/'[^']*'/g, ''));
}

function luxonParser(format: string): TimestampParser {
  const withOffset = formatHasOffset(format);
  const cache = new Map<string, ParsedTime>();
  return (raw: string): ParsedTime => {
    const hit = cache.get(raw);
    if (hit) return hit;
    const dt = withOffset
      ? DateTime.fromFormat(raw.trim(), format, { setZone: true, locale: 'en-US' })
      : DateTime.fromFormat(raw.trim(), format, { zone: 'UTC', locale: 'en-US' });
    const r: ParsedTime = dt.isValid
      ? { kind: withOffset ? 'instant' : 'local', ms: dt.toMillis() }
      : {
          kind: 'error',
          message: `${JSON.stringify(raw)} does not match the timestamp format ${JSON.stringify(format)}`,
        };
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(raw, r);
    return r;
  };
}

/** A parser for a profile's timestampFormat: 'iso', 'epoch_s', 'epoch_ms' or a luxon format. */
export function timestampParser(format: string): TimestampParser {
  switch (format) {
    case 'iso':
      return parseIsoTimestamp;
    case 'epoch_s':
      return parseEpochSeconds;
    case 'epoch_ms':
      return parseEpochMillis;
    default:
      return compileFormat(format) ?? luxonParser(format);
  }
}

/**
 * Checks that a luxon format can describe a date: formatting a sample date and parsing it back
 * must give the same calendar day. Returns a message when it cannot.
 */
export function checkLuxonFormat(format: string): string | undefined {
  const sample = DateTime.fromObject(
    { year: 2021, month: 11, day: 7, hour: 13, minute: 45, second: 30 },
    { zone: 'UTC', locale: 'en-US' },
  );
  let text: string;
  try {
    text = sample.toFormat(format);
  } catch {
    return `${JSON.stringify(format)} is not a luxon format`;
  }
  const parsed = timestampParser(format)(text);
  if (parsed.kind === 'error')
    return `${JSON.stringify(format)} cannot be read back (${parsed.message})`;
  const d = new Date(parsed.ms);
  const ok =
    parsed.kind === 'instant'
      ? Math.abs(parsed.ms - sample.toMillis()) < 86_400_000
      : d.getUTCFullYear() === 2021 && d.getUTCMonth() === 10 && d.getUTCDate() === 7;
  return ok ? undefined : `${JSON.stringify(format)} does not name a full date (year, month, day)`;
}
