/**
 * Load shapes: the UTC interval grid, the per-time-zone local calendar (with daily weather), and
 * per-meter consumption / PV generation in kWh per interval.
 *
 * The grid is regular in UTC (every interval is exactly `intervalSeconds` long, DST or not); the
 * daily shapes are evaluated at the service point's local clock time (luxon), so on a
 * spring-forward day the local day simply has fewer intervals (92 of 15 minutes) and on a
 * fall-back day more (100).
 */
import { DateTime } from 'luxon';
import { Rng } from './random';

// Bound once: global lookups are slow inside vm contexts (e.g. under Jest).
const { PI, abs, cos, exp, max, min, pow, round, sin } = Math;

// ---------------------------------------------------------------------------------------------
// UTC interval grid
// ---------------------------------------------------------------------------------------------

export interface IntervalGrid {
  /** epoch ms (UTC) of the first interval start */
  start: number;
  intervalSeconds: number;
  intervalMs: number;
  /** number of intervals */
  count: number;
  /** intervals per UTC day */
  perDay: number;
  days: number;
}

export function createGrid(start: number, days: number, intervalSeconds: number): IntervalGrid {
  if (!Number.isInteger(intervalSeconds) || intervalSeconds < 60 || 86_400 % intervalSeconds) {
    throw new Error(
      `interval must be a whole number of seconds ≥ 60 dividing a day, got ${intervalSeconds}`,
    );
  }
  if (!Number.isInteger(days) || days < 1)
    throw new Error(`days must be a positive integer, got ${days}`);
  if (!Number.isFinite(start)) throw new Error('start must be a finite epoch ms value');
  const intervalMs = intervalSeconds * 1000;
  if (start % intervalMs !== 0) {
    throw new Error(
      `start ${formatUtc(start)} is not aligned to the ${intervalSeconds} s interval grid`,
    );
  }
  const perDay = 86_400 / intervalSeconds;
  return { start, intervalSeconds, intervalMs, count: perDay * days, perDay, days };
}

const pad2 = (n: number): string => (n < 10 ? '0' + n : String(n));

/** ISO 8601 UTC without milliseconds when they are zero: `2026-01-01T00:15:00Z`. */
export function formatUtc(ms: number): string {
  const d = new Date(ms);
  const base =
    `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}` +
    `T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  const millis = d.getUTCMilliseconds();
  return millis ? `${base}.${String(millis).padStart(3, '0')}Z` : `${base}Z`;
}

/**
 * Returns a formatter of interval starts on the grid that caches the ISO strings per interval
 * index (all meters share the grid, so each timestamp is formatted once).
 */
export function gridTimestampFormatter(grid: IntervalGrid): (ms: number) => string {
  const cache: Array<string | undefined> = new Array<string | undefined>(grid.count);
  return (ms: number): string => {
    const idx = (ms - grid.start) / grid.intervalMs;
    if (idx >= 0 && idx < grid.count && Number.isInteger(idx)) {
      let s = cache[idx];
      if (s === undefined) {
        s = formatUtc(ms);
        cache[idx] = s;
      }
      return s;
    }
    return formatUtc(ms);
  };
}

export const round4 = (v: number): number => round(v * 10_000) / 10_000;

// ---------------------------------------------------------------------------------------------
// Local calendar and weather
// ---------------------------------------------------------------------------------------------

export interface LocalDay {
  /** local calendar date, YYYY-MM-DD */
  date: string;
  /** 1 = Monday … 7 = Sunday */
  weekday: number;
  dayOfYear: number;
  /** first grid interval index that belongs to this local day */
  first: number;
  /** number of grid intervals (of this grid) in this local day; partial at the grid's ends */
  count: number;
  /** daily mean outdoor temperature, °C (shared by everyone in the time zone) */
  temperatureC: number;
  /** clear-sky fraction 0.1–1 for PV (shared by everyone in the time zone) */
  clearness: number;
}

export interface LocalCalendar {
  timeZone: string;
  /** local clock hour (0–24, fractional) at the midpoint of each interval */
  hour: Float64Array;
  /** index into `days` for each interval */
  day: Int32Array;
  /** 1 when the interval midpoint is in daylight-saving time */
  dst: Uint8Array;
  days: LocalDay[];
}

/** Seasonal mean daily temperature (°C) for a mid-latitude northern-hemisphere climate. */
export function seasonalTemperature(dayOfYear: number): number {
  return 13 - 12 * cos((2 * PI * (dayOfYear - 20)) / 365.25);
}

function dailyWeather(seed: number, timeZone: string, date: string, dayOfYear: number) {
  const rng = Rng.derive(seed, 'weather', timeZone, date);
  const temperatureC = seasonalTemperature(dayOfYear) + rng.normal(0, 3.5);
  const sky = rng.weighted<'clear' | 'partly' | 'overcast'>([
    ['clear', 0.45],
    ['partly', 0.35],
    ['overcast', 0.2],
  ]);
  const clearness =
    sky === 'clear'
      ? rng.range(0.85, 1)
      : sky === 'partly'
        ? rng.range(0.45, 0.85)
        : rng.range(0.1, 0.45);
  return { temperatureC, clearness };
}

/**
 * The local-time view of the grid for one time zone. Weather is keyed by (seed, zone, local date),
 * so a given date has the same weather whatever the grid's start.
 */
export function buildCalendar(grid: IntervalGrid, timeZone: string, seed: number): LocalCalendar {
  const hour = new Float64Array(grid.count);
  const day = new Int32Array(grid.count);
  const dst = new Uint8Array(grid.count);
  const days: LocalDay[] = [];
  const half = grid.intervalMs / 2;
  let current: LocalDay | undefined;
  for (let i = 0; i < grid.count; i++) {
    const dt = DateTime.fromMillis(grid.start + i * grid.intervalMs + half, { zone: timeZone });
    if (!dt.isValid) throw new Error(`invalid time zone ${timeZone}`);
    const date = dt.toISODate() as string;
    if (!current || current.date !== date) {
      const weather = dailyWeather(seed, timeZone, date, dt.ordinal);
      current = {
        date,
        weekday: dt.weekday,
        dayOfYear: dt.ordinal,
        first: i,
        count: 0,
        ...weather,
      };
      days.push(current);
    }
    current.count++;
    hour[i] = dt.hour + dt.minute / 60 + dt.second / 3600 + dt.millisecond / 3_600_000;
    day[i] = days.length - 1;
    dst[i] = dt.isInDST ? 1 : 0;
  }
  return { timeZone, hour, day, dst, days };
}

// ---------------------------------------------------------------------------------------------
// Per-customer load parameters
// ---------------------------------------------------------------------------------------------

export interface EvParams {
  /** charger power, kW */
  kw: number;
  /** usual plug-in local hour */
  startHour: number;
  probWeekday: number;
  probWeekend: number;
  /** energy per session, kWh */
  minKwh: number;
  maxKwh: number;
}

export interface PvParams {
  /** DC capacity, kWp */
  kwp: number;
  /** system derate 0.7–0.9 */
  derate: number;
  /** orientation shift of solar noon, hours (east < 0 < west) */
  shift: number;
}

export interface ResidentialLoadParams {
  kind: 'residential';
  /** non-HVAC daily energy, kWh */
  baseDailyKwh: number;
  baseFrac: number;
  morningHour: number;
  morningAmp: number;
  eveningHour: number;
  eveningAmp: number;
  middayAmp: number;
  /** kWh per heating degree-day (base 16 °C) */
  heatKwhPerHdd: number;
  /** kWh per cooling degree-day (base 20 °C) */
  coolKwhPerCdd: number;
  /** per-interval multiplicative noise sd */
  noise: number;
  /** appliance events (1.5–4.5 kW, 30–90 min) per day */
  appliancesPerDay: number;
  ev: EvParams | null;
  pv: PvParams | null;
}

export interface CommercialLoadParams {
  kind: 'commercial';
  /** weekday energy at mild weather, kWh */
  weekdayKwh: number;
  openHour: number;
  closeHour: number;
  /** night/weekend base as a fraction of the business-hours plateau */
  baseFrac: number;
  saturdayFactor: number;
  sundayFactor: number;
  /** kWh per cooling degree-day during business hours */
  coolKwhPerCdd: number;
  heatKwhPerHdd: number;
  noise: number;
}

export type LoadParams = ResidentialLoadParams | CommercialLoadParams;

/** Median non-HVAC residential daily energy; with HVAC the fleet averages ≈ 25–30 kWh/day. */
export const RESIDENTIAL_MEDIAN_BASE_KWH = 20;

export function drawResidentialParams(
  rng: Rng,
  hasPv: boolean,
  hasEv: boolean,
): ResidentialLoadParams {
  const electricHeat = rng.chance(0.35);
  return {
    kind: 'residential',
    baseDailyKwh: min(80, max(5, rng.lognormal(RESIDENTIAL_MEDIAN_BASE_KWH, 0.4))),
    baseFrac: rng.range(0.35, 0.6),
    morningHour: rng.normal(7, 0.5),
    morningAmp: rng.range(0.6, 1.3),
    eveningHour: rng.normal(19, 0.6),
    eveningAmp: rng.range(1.2, 2.0),
    middayAmp: rng.range(0.15, 0.5),
    heatKwhPerHdd: electricHeat ? rng.range(0.6, 1.6) : rng.range(0.05, 0.2),
    coolKwhPerCdd: rng.chance(0.85) ? rng.range(0.6, 1.6) : rng.range(0, 0.2),
    noise: rng.range(0.15, 0.3),
    appliancesPerDay: rng.range(0.5, 2),
    ev: hasEv
      ? {
          kw: rng.pick([7.2, 7.2, 7.2, 6.6, 9.6]),
          startHour: rng.range(17.5, 22),
          probWeekday: rng.range(0.65, 0.95),
          probWeekend: rng.range(0.3, 0.7),
          minKwh: rng.range(6, 12),
          maxKwh: rng.range(18, 32),
        }
      : null,
    pv: hasPv
      ? {
          kwp: round4(rng.range(4, 10)),
          derate: rng.range(0.72, 0.88),
          shift: rng.range(-0.5, 0.5),
        }
      : null,
  };
}

export function drawCommercialParams(rng: Rng): CommercialLoadParams {
  const openHour = rng.range(6.5, 8.5);
  return {
    kind: 'commercial',
    weekdayKwh: rng.lognormal(RESIDENTIAL_MEDIAN_BASE_KWH * 1.3, 0.1) * rng.range(10, 30),
    openHour,
    closeHour: openHour + rng.range(9, 12),
    baseFrac: rng.range(0.2, 0.4),
    saturdayFactor: rng.chance(0.4) ? rng.range(0.4, 0.8) : rng.range(0, 0.1),
    sundayFactor: rng.chance(0.15) ? rng.range(0.3, 0.6) : 0,
    coolKwhPerCdd: rng.range(4, 15),
    heatKwhPerHdd: rng.range(1, 6),
    noise: rng.range(0.04, 0.1),
  };
}

/** Typical daily energy, kWh (for transformer sizing). */
export function typicalDailyKwh(p: LoadParams): number {
  if (p.kind === 'commercial') return p.weekdayKwh;
  return p.baseDailyKwh + p.heatKwhPerHdd * 6 + p.coolKwhPerCdd * 3 + (p.ev ? 10 : 0);
}

/** Expected coincident peak demand, kW (for transformer sizing). */
export function peakDemandKw(p: LoadParams): number {
  if (p.kind === 'commercial') {
    const hours = p.closeHour - p.openHour;
    const plateau = p.weekdayKwh / (hours + (24 - hours) * p.baseFrac);
    return plateau * 1.3;
  }
  return (typicalDailyKwh(p) / 24) * 2.2 + (p.ev ? p.ev.kw * 0.4 : 0);
}

// ---------------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------------

/** Gaussian bump on the 24-h circle. */
function bump(h: number, center: number, sd: number): number {
  let d = abs(h - center) % 24;
  if (d > 12) d = 24 - d;
  return exp(-0.5 * (d / sd) * (d / sd));
}

function smoothstep(x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  return x * x * (3 - 2 * x);
}

type Shape = (h: number) => number;

/** Scales a shape so that its mean over the 24 hours is 1. */
function normalized(shape: Shape): Shape {
  let sum = 0;
  const n = 288;
  for (let k = 0; k < n; k++) sum += shape(((k + 0.5) * 24) / n);
  const scale = n / sum;
  return (h) => shape(h) * scale;
}

function residentialShapes(p: ResidentialLoadParams): { weekday: Shape; weekend: Shape } {
  const weekday = normalized(
    (h) =>
      p.baseFrac +
      p.morningAmp * bump(h, p.morningHour, 1.0) +
      p.eveningAmp * bump(h, p.eveningHour, 2.0) +
      p.middayAmp * bump(h, 13, 2.5),
  );
  const weekend = normalized(
    (h) =>
      p.baseFrac +
      p.morningAmp * 0.8 * bump(h, p.morningHour + 1.75, 1.6) +
      p.eveningAmp * bump(h, p.eveningHour, 2.2) +
      (p.middayAmp + 0.35) * bump(h, 13.5, 3),
  );
  return { weekday, weekend };
}

/** Heating runs mornings and evenings, cooling in the afternoon/evening. */
const heatingShape = normalized((h) => 0.4 + bump(h, 7, 2) + 0.8 * bump(h, 20, 3));
const coolingShape = normalized((h) => 0.15 + bump(h, 17, 3.2));

function commercialShape(p: CommercialLoadParams, level: number): Shape {
  return (h) =>
    p.baseFrac +
    (1 - p.baseFrac) * level * smoothstep(h - p.openHour + 0.5) * smoothstep(p.closeHour + 0.5 - h);
}

/** Mean over the day of the weekday commercial shape (to turn weekday kWh into a plateau kW). */
function meanOf(shape: Shape): number {
  let sum = 0;
  for (let k = 0; k < 288; k++) sum += shape(((k + 0.5) * 24) / 288);
  return sum / 288;
}

const isWeekend = (weekday: number): boolean => weekday >= 6;

export interface MeterLoad {
  /** kWh per interval imported from the grid (after netting any PV), rounded to 4 decimals */
  delivered: Float64Array;
  /** kWh per interval exported (PV meters only), rounded to 4 decimals; zero at night */
  received: Float64Array | null;
}

/** Solar generation, kW, at one interval (0 at night). */
function pvKw(pv: PvParams, cal: LocalCalendar, i: number, dayOfYear: number, sky: number): number {
  const solarHour = cal.hour[i] - cal.dst[i] - pv.shift;
  const dayLength = 12.15 + 2.85 * cos((2 * PI * (dayOfYear - 172)) / 365.25);
  const sunrise = 12.2 - dayLength / 2;
  const x = (solarHour - sunrise) / dayLength;
  if (x <= 0 || x >= 1) return 0;
  const seasonalPeak = 0.72 + 0.16 * cos((2 * PI * (dayOfYear - 172)) / 365.25);
  return pv.kwp * pv.derate * seasonalPeak * sky * pow(sin(PI * x), 1.3);
}

/**
 * Clean (fault-free) energy for one meter over the grid. Deterministic in (seed, meter index):
 * the caller passes the meter's own stream.
 */
export function meterLoad(
  params: LoadParams,
  grid: IntervalGrid,
  cal: LocalCalendar,
  rng: Rng,
): MeterLoad {
  const n = grid.count;
  const hours = grid.intervalSeconds / 3600;
  const load = new Float64Array(n);
  let pv: Float64Array | null = null;

  if (params.kind === 'commercial') {
    const weekdayShape = commercialShape(params, 1);
    const plateauScale = params.weekdayKwh / 24 / meanOf(weekdayShape);
    const shapes = new Map<number, Shape>();
    const shapeFor = (level: number): Shape => {
      let s = shapes.get(level);
      if (!s) {
        s = commercialShape(params, level);
        shapes.set(level, s);
      }
      return s;
    };
    for (const day of cal.days) {
      const level =
        day.weekday === 7 ? params.sundayFactor : day.weekday === 6 ? params.saturdayFactor : 1;
      const shape = shapeFor(level);
      const dayFactor = exp(rng.normal(0, 0.05));
      const cdd = max(0, day.temperatureC - 20);
      const hdd = max(0, 16 - day.temperatureC);
      // HVAC energy spread over business hours (and a little at night)
      const businessHours = params.closeHour - params.openHour;
      const hvacKw =
        ((params.coolKwhPerCdd * cdd + params.heatKwhPerHdd * hdd) * (0.4 + 0.6 * level)) /
        businessHours;
      for (let i = day.first; i < day.first + day.count; i++) {
        const h = cal.hour[i];
        const open = h >= params.openHour && h < params.closeHour ? 1 : 0.1;
        const kw = plateauScale * shape(h) * dayFactor + hvacKw * open * (level > 0 ? 1 : 0.3);
        load[i] = kw * hours * max(0.5, 1 + params.noise * rng.normal());
      }
    }
  } else {
    const { weekday, weekend } = residentialShapes(params);
    if (params.pv) pv = new Float64Array(n);
    const perHour = 3600 / grid.intervalSeconds;
    for (const day of cal.days) {
      const shape = isWeekend(day.weekday) ? weekend : weekday;
      const dayFactor = exp(rng.normal(0, 0.12));
      const hdd = max(0, 16 - day.temperatureC);
      const cdd = max(0, day.temperatureC - 20);
      const baseKw = (params.baseDailyKwh * dayFactor) / 24;
      const heatKw = (params.heatKwhPerHdd * hdd) / 24;
      const coolKw = (params.coolKwhPerCdd * cdd) / 24;
      const end = day.first + day.count;
      for (let i = day.first; i < end; i++) {
        const h = cal.hour[i];
        const kw = baseKw * shape(h) + heatKw * heatingShape(h) + coolKw * coolingShape(h);
        load[i] = kw * hours * max(0.3, 1 + params.noise * rng.normal());
      }
      // appliance events (oven, dryer, dishwasher …) mostly in waking hours
      const events = rng.poisson(params.appliancesPerDay);
      for (let e = 0; e < events; e++) {
        const at = rng.chance(0.5) ? rng.normal(18.5, 2) : rng.range(7, 22);
        const kw = rng.range(1.5, 4.5);
        const len = max(1, round(rng.range(0.5, 1.5) * perHour));
        const startIdx = localIndex(cal, day, at);
        if (startIdx < 0) continue;
        for (let i = startIdx; i < min(end, startIdx + len); i++) load[i] = load[i] + kw * hours;
      }
      // EV charging session (may run past local midnight)
      const ev = params.ev;
      if (ev && rng.chance(isWeekend(day.weekday) ? ev.probWeekend : ev.probWeekday)) {
        const startHour = min(23.75, max(16, rng.normal(ev.startHour, 0.75)));
        const energy = rng.range(ev.minKwh, ev.maxKwh);
        let remaining = energy;
        let i = localIndex(cal, day, startHour);
        while (i >= 0 && remaining > 1e-9 && i < n) {
          const e = min(remaining, ev.kw * hours);
          load[i] = load[i] + e;
          remaining -= e;
          i++;
        }
      }
      // rooftop PV
      if (params.pv && pv) {
        const sky = day.clearness * rng.range(0.95, 1.05);
        const flicker = day.clearness < 0.85 ? (1 - day.clearness) * 0.8 : 0.03;
        for (let i = day.first; i < end; i++) {
          const kw = pvKw(params.pv, cal, i, day.dayOfYear, sky);
          if (kw > 0) pv[i] = kw * hours * max(0, 1 - flicker * rng.next());
        }
      }
    }
  }

  if (!pv) {
    for (let i = 0; i < n; i++) load[i] = round4(load[i]);
    return { delivered: load, received: null };
  }
  const received = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const net = load[i] - pv[i];
    load[i] = net > 0 ? round4(net) : 0;
    received[i] = net < 0 ? round4(-net) : 0;
  }
  return { delivered: load, received };
}

/**
 * First interval of `day` whose local hour is ≥ `hour`, or -1 when the day (partial at the grid's
 * ends) has no interval within 1.25 h after that hour.
 */
function localIndex(cal: LocalCalendar, day: LocalDay, hour: number): number {
  const end = day.first + day.count;
  for (let i = day.first; i < end; i++) {
    if (cal.hour[i] >= hour) return cal.hour[i] - hour <= 1.25 ? i : -1;
  }
  return -1;
}
