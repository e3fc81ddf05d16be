/**
 * Local-time views of an interval grid for VEE: the meter's local days over a window (23, 24 or
 * 25 hours long) and the local clock time of an interval. Pure (luxon's zone rules only).
 */
import { DateTime, IANAZone } from 'luxon';
import { ErrorCode, MeterdataError } from '../../errors';
import { DAY_MS, isoDateOfDay } from '../readings';

const MINUTE_MS = 60_000;
const DAY_MINUTES = 1440;

/**
 * UTC offsets per zone and UTC day: luxon asks Intl for every offset, which costs microseconds
 * per call and dominated the rules' run time. A day whose offset is the same at its first and
 * its last millisecond has no transition (zones change at most once a day), so one entry
 * serves all of its intervals; a transition day (NaN) asks luxon per instant.
 */
const dayOffsets = new Map<string, Map<number, number>>();

/** The zone's UTC offset in minutes at an instant (cached per UTC day). */
export function zoneOffset(zone: IANAZone, ts: number): number {
  let byDay = dayOffsets.get(zone.name);
  if (!byDay) dayOffsets.set(zone.name, (byDay = new Map()));
  const day = Math.floor(ts / DAY_MS);
  let o = byDay.get(day);
  if (o === undefined) {
    const a = zone.offset(day * DAY_MS);
    const b = zone.offset(day * DAY_MS + DAY_MS - 1);
    o = a === b ? a : NaN;
    if (byDay.size > 100_000) byDay.clear();
    byDay.set(day, o);
  }
  return Number.isNaN(o) ? zone.offset(ts) : o;
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/**
 * The local time of an instant as ISO 8601 with the zone's offset and without seconds
 * (`2026-03-08T03:00-04:00`), as luxon writes it with seconds and milliseconds suppressed, from
 * the cached offsets. Instants with seconds, or outside years 1000-9999, are left to luxon.
 */
export function localIso(ms: number, zone: IANAZone): string {
  const offset = zoneOffset(zone, ms);
  const local = ms + offset * MINUTE_MS;
  if (local % MINUTE_MS !== 0 || !Number.isFinite(local)) return luxonIso(ms, zone);
  const d = new Date(local);
  const year = d.getUTCFullYear();
  if (year < 1000 || year > 9999) return luxonIso(ms, zone);
  const abs = Math.abs(offset);
  return (
    `${year}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}` +
    `T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}` +
    `${offset < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`
  );
}

function luxonIso(ms: number, zone: IANAZone): string {
  return DateTime.fromMillis(ms, { zone }).toISO({
    suppressMilliseconds: true,
    suppressSeconds: true,
  }) as string;
}

export interface LocalDaySlice {
  /** local calendar date, yyyy-mm-dd */
  date: string;
  /** 1 = Monday … 7 = Sunday */
  weekday: number;
  /** epoch ms of local midnight and of the next local midnight */
  dayStart: number;
  dayEnd: number;
  /** index range [first, last) of the window's intervals that start in this local day */
  first: number;
  last: number;
  /** intervals of the grid in the whole local day (92, 96 or 100 at 15 min in New York) */
  fullCount: number;
}

const zones = new Map<string, IANAZone>();

export function zoneOf(timeZone: string): IANAZone {
  const hit = zones.get(timeZone);
  if (hit) return hit;
  const zone = IANAZone.create(timeZone);
  if (!zone.isValid) {
    throw new MeterdataError(
      ErrorCode.BAD_TIME_ZONE,
      `${JSON.stringify(timeZone)} is not an IANA time zone`,
    );
  }
  if (zones.size < 1000) zones.set(timeZone, zone);
  return zone;
}

/**
 * The local days that intervals of the grid [start, start + n·step) start in, each with the
 * slice of the window it covers. An interval belongs to the local day its start falls in.
 */
export function localDays(
  start: number,
  n: number,
  stepMs: number,
  timeZone: string,
): readonly LocalDaySlice[] {
  // The windows of one chunk share their grid across meters of a zone: each is worked out once.
  const key = `${timeZone}|${start}|${n}|${stepMs}`;
  let days = daysOfGrid.get(key);
  if (!days) {
    days = Object.freeze(computeLocalDays(start, n, stepMs, timeZone).map((d) => Object.freeze(d)));
    if (daysOfGrid.size >= 4096) daysOfGrid.clear();
    daysOfGrid.set(key, days);
  }
  return days;
}

const daysOfGrid = new Map<string, readonly LocalDaySlice[]>();

function computeLocalDays(
  start: number,
  n: number,
  stepMs: number,
  timeZone: string,
): LocalDaySlice[] {
  const zone = zoneOf(timeZone);
  const out: LocalDaySlice[] = [];
  if (n <= 0) return out;
  const end = start + n * stepMs;
  let day = Math.floor((start + zoneOffset(zone, start) * MINUTE_MS) / DAY_MS);
  let dayStart = localMidnight(day, zone);
  while (dayStart < end) {
    const dayEnd = localMidnight(day + 1, zone);
    const firstAll = Math.ceil((dayStart - start) / stepMs);
    const lastAll = Math.ceil((dayEnd - start) / stepMs);
    out.push({
      date: isoDateOfDay(day),
      weekday: ((((day + 3) % 7) + 7) % 7) + 1, // 1970-01-01 was a Thursday
      dayStart,
      dayEnd,
      first: Math.max(0, firstAll),
      last: Math.min(n, lastAll),
      fullCount: lastAll - firstAll,
    });
    day++;
    dayStart = dayEnd;
  }
  return out;
}

const HOUR_MS = 3_600_000;

/**
 * The first instant of a local date (epoch day number of the local calendar). Away from a
 * transition the offset settles in one step; within three hours of one (a midnight that does
 * not exist, or exists twice) luxon decides, as startOf('day') does.
 */
function localMidnight(day: number, zone: IANAZone): number {
  const wall = day * DAY_MS;
  const o = zoneOffset(zone, wall - zoneOffset(zone, wall) * MINUTE_MS);
  const t = wall - o * MINUTE_MS;
  if (
    zoneOffset(zone, t) === o &&
    zoneOffset(zone, t - 3 * HOUR_MS) === o &&
    zoneOffset(zone, t + 3 * HOUR_MS) === o
  ) {
    return t;
  }
  return DateTime.fromISO(isoDateOfDay(day), { zone }).startOf('day').toMillis();
}

/** Local clock minute of the day (0–1439) at an instant. */
export function localMinuteOfDay(ts: number, zone: IANAZone): number {
  const local = ts + zoneOffset(zone, ts) * MINUTE_MS;
  const m = Math.floor(local / MINUTE_MS) % DAY_MINUTES;
  return m < 0 ? m + DAY_MINUTES : m;
}

/** Local calendar date (yyyy-mm-dd) at an instant. */
export function localDate(ts: number, zone: IANAZone): string {
  return isoDateOfDay(Math.floor((ts + zoneOffset(zone, ts) * MINUTE_MS) / DAY_MS));
}

/**
 * 0 for the first time a local clock time occurs on its day, 1 for its repetition in the
 * fall-back hour (e.g. the second 01:15 of a 100-interval day).
 */
export function localOccurrence(ts: number, zone: IANAZone): number {
  const m = localMinuteOfDay(ts, zone);
  // DST shifts are 30, 60 or (historically) 120 minutes.
  for (const shift of [30, 60, 120]) {
    const earlier = ts - shift * MINUTE_MS;
    if (localMinuteOfDay(earlier, zone) === m && zoneOffset(zone, earlier) > zoneOffset(zone, ts))
      return 1;
  }
  return 0;
}

/** The date `days` calendar days after a local date (negative: before). */
export function addDays(date: string, days: number): string {
  return DateTime.fromISO(date, { zone: 'UTC' }).plus({ days }).toISODate() as string;
}

/** ISO weekday (1 = Monday … 7 = Sunday) of a local date. */
export function weekdayOf(date: string): number {
  return DateTime.fromISO(date, { zone: 'UTC' }).weekday;
}
