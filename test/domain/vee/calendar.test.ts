import { DateTime } from 'luxon';
import {
  localDate,
  localDays,
  localIso,
  localMinuteOfDay,
  zoneOf,
} from '../../../src/domain/vee/calendar';

/** The same local days computed the slow way, with luxon for every day. */
function reference(start: number, n: number, stepMs: number, timeZone: string) {
  const out: Array<{ date: string; weekday: number; dayStart: number; dayEnd: number }> = [];
  const end = start + n * stepMs;
  let day = DateTime.fromMillis(start, { zone: timeZone }).startOf('day');
  while (day.toMillis() < end) {
    const next = day.plus({ days: 1 }).startOf('day');
    out.push({
      date: day.toISODate()!,
      weekday: day.weekday,
      dayStart: day.toMillis(),
      dayEnd: next.toMillis(),
    });
    day = next;
  }
  return out;
}

// Zones with DST at 02:00 (New York), at midnight (Sao Paulo until 2019, Santiago), a
// 30-minute shift (Lord Howe), none (Kolkata), and the southern hemisphere (Sydney).
const ZONES = [
  'America/New_York',
  'America/Sao_Paulo',
  'America/Santiago',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'Australia/Sydney',
  'Europe/London',
];

test.each(ZONES)('local days in %s match luxon day by day over two years', (zone) => {
  const start = Date.UTC(2017, 0, 1, 5, 15);
  const step = 900_000;
  const n = 2 * 366 * 96;
  const got = localDays(start, n, step, zone).map(({ date, weekday, dayStart, dayEnd }) => ({
    date,
    weekday,
    dayStart,
    dayEnd,
  }));
  expect(got).toEqual(reference(start, n, step, zone));
});

test.each(ZONES)('local dates and clock minutes in %s match luxon every 15 minutes', (zone) => {
  const z = zoneOf(zone);
  const bad: string[] = [];
  for (let t = Date.UTC(2018, 0, 1); t < Date.UTC(2019, 0, 1); t += 900_000) {
    const d = DateTime.fromMillis(t, { zone });
    if (localDate(t, z) !== d.toISODate()) bad.push(`date ${new Date(t).toISOString()}`);
    if (localMinuteOfDay(t, z) !== d.hour * 60 + d.minute)
      bad.push(`minute ${new Date(t).toISOString()}`);
  }
  expect(bad).toEqual([]);
});

test.each([...ZONES, 'UTC', 'Pacific/Chatham', 'America/St_Johns'])(
  'local ISO times in %s match luxon every 15 minutes, and at odd seconds',
  (zone) => {
    const z = zoneOf(zone);
    const bad: string[] = [];
    const luxon = (t: number) =>
      DateTime.fromMillis(t, { zone: z }).toISO({
        suppressMilliseconds: true,
        suppressSeconds: true,
      });
    for (let t = Date.UTC(2018, 0, 1); t < Date.UTC(2019, 0, 1); t += 900_000) {
      if (localIso(t, z) !== luxon(t)) bad.push(`${new Date(t).toISOString()}: ${localIso(t, z)}`);
    }
    for (const t of [Date.UTC(2018, 5, 1, 1, 2, 3), Date.UTC(2018, 5, 1, 1, 2, 3, 456), -1e13]) {
      if (localIso(t, z) !== luxon(t)) bad.push(`${t}: ${localIso(t, z)}`);
    }
    expect(bad).toEqual([]);
  },
);
