/**
 * The pure half of the reading write path: validating incoming readings against the meter
 * registry, grouping them into meter-channel-day patches, and merging a patch into a stored
 * day (what is new, unchanged or changed, and the history a change leaves behind).
 */
import { ErrorCode } from '../errors';
import {
  type Channel,
  channelCode,
  isQualityCode,
  isSubstitute,
  MISSING_QUALITY,
  parseChannel,
  parseEnergyUnit,
  Quality,
  toKwhFactor,
} from './channel';

export const DAY_MS = 86_400_000;

/**
 * 'YYYY-MM-DD' of an epoch day (UTC days since 1970-01-01), remembered: the write path and the
 * rules ask for the same few days for every meter of a chunk.
 */
export function isoDateOfDay(day: number): string {
  let s = isoDates.get(day);
  if (s === undefined) {
    s = new Date(day * DAY_MS).toISOString().slice(0, 10);
    if (isoDates.size > 100_000) isoDates.clear();
    isoDates.set(day, s);
  }
  return s;
}

const isoDates = new Map<number, string>();
/** Readings before this instant are rejected outright (no meter of ours is that old). */
export const EARLIEST_READING_MS = Date.UTC(1990, 0, 1);

export interface MeterRef {
  id: number;
  serial: string;
  intervalSeconds: number;
  channels: readonly Channel[];
  installedAt: number;
  removedAt: number | null;
}

export interface ReadingInput {
  meterSerial: string;
  channel: string;
  /** epoch ms, or an ISO 8601 string with an offset */
  intervalStart: number | string;
  intervalSeconds: number;
  value: number | string;
  unit: string;
  quality?: number | null;
}

export interface Rejection {
  /** position in the batch (0-based), or the line number for files */
  index: number;
  code: ErrorCode;
  message: string;
  meterSerial?: string;
}

export interface NormalizedReading {
  meterId: number;
  channel: 1 | 2;
  /** interval start, epoch ms UTC */
  ts: number;
  intervalSeconds: number;
  /** kWh */
  value: number;
  quality: number;
}

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const ISO_WITH_OFFSET_RE =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

const POWERS_OF_TEN = Array.from({ length: 16 }, (_, k) => 10 ** k);

/**
 * A plain decimal (`-12.345`, `.5`, `7.`) of at most 15 digits, read from character codes:
 * the digits as an integer divided by a power of ten. Both are exact doubles, so the quotient
 * is the correctly rounded value, the same double Number() gives. Reads `s` from `start` to
 * `end`. Anything else (whitespace, exponents, more digits) is undefined and goes the general
 * way.
 */
export function plainDecimal(s: string, start = 0, end = s.length): number | undefined {
  let i = start;
  let negative = false;
  const first = s.charCodeAt(start);
  if (first === 45 || first === 43) {
    negative = first === 45;
    i++;
  }
  let int = 0;
  let digits = 0;
  let fraction = -1;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      int = int * 10 + (c - 48);
      digits++;
    } else if (c === 46 && fraction < 0) fraction = digits;
    else return undefined;
  }
  if (digits === 0 || digits > 15) return undefined;
  const v = fraction < 0 ? int : int / POWERS_OF_TEN[digits - fraction]!;
  return negative ? -v : v;
}

/** Parses a value strictly: no decimal comma, no NaN/Infinity, nothing that overflows. */
export function parseReadingValue(raw: number | string): number | undefined {
  let n: number;
  if (typeof raw === 'number') n = raw;
  else {
    const plain = plainDecimal(raw);
    if (plain !== undefined) n = plain;
    else {
      const s = raw.trim();
      if (!NUMBER_RE.test(s)) return undefined;
      n = Number(s);
    }
  }
  if (!Number.isFinite(n) || Math.abs(n) > 1e12) return undefined;
  return n;
}

// Files repeat the same few thousand timestamps for every meter: parsing each once matters
// at millions of rows. Bounded, so memory stays flat whatever the input.
const instantCache = new Map<string, number | undefined>();
const INSTANT_CACHE_MAX = 100_000;

/** Parses an instant that must carry its offset (local times without one are ambiguous). */
export function parseInstant(raw: number | string): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  const hit = instantCache.get(raw);
  if (hit !== undefined || instantCache.has(raw)) return hit;
  const s = raw.trim();
  let ms: number | undefined;
  if (ISO_WITH_OFFSET_RE.test(s)) {
    const parsed = Date.parse(s);
    ms = Number.isNaN(parsed) ? undefined : parsed;
  }
  if (instantCache.size >= INSTANT_CACHE_MAX) instantCache.clear();
  instantCache.set(raw, ms);
  return ms;
}

export interface ValidateOptions {
  now: number;
  clockToleranceSeconds: number;
  /** index offset added to rejection indexes (line numbers for files) */
  indexBase?: number;
}

/**
 * Validates one reading against its meter. The normalised reading is written into `into` when
 * given (a caller validating millions of readings reuses one object), else into a new one.
 */
export function validateReading(
  item: ReadingInput,
  meter: MeterRef | undefined,
  opts: ValidateOptions,
  into?: NormalizedReading,
): NormalizedReading | Omit<Rejection, 'index'> {
  const serial = item.meterSerial;
  if (!meter)
    return rejection(serial, ErrorCode.UNKNOWN_METER, `unknown meter ${JSON.stringify(serial)}`);
  const channel = parseChannel(String(item.channel ?? ''));
  if (!channel || !meter.channels.includes(channel)) {
    return rejection(
      serial,
      ErrorCode.UNKNOWN_CHANNEL,
      `meter ${serial} has no channel ${JSON.stringify(item.channel)} (it has ${meter.channels.join(', ')})`,
    );
  }
  const unit = parseEnergyUnit(String(item.unit ?? ''));
  if (!unit) {
    return rejection(
      serial,
      ErrorCode.BAD_UNIT,
      `unit ${JSON.stringify(item.unit)} is not an energy unit; use Wh, kWh or MWh`,
    );
  }
  // Numbers as they come stay unboxed: a parse that can fail returns NaN here, not undefined
  // (the write path validates millions of readings, and a number | undefined costs each one
  // an allocation).
  const rawValue = item.value;
  const value =
    typeof rawValue === 'number'
      ? Number.isFinite(rawValue) && Math.abs(rawValue) <= 1e12
        ? rawValue
        : NaN
      : (parseReadingValue(rawValue) ?? NaN);
  if (value !== value) {
    return rejection(
      serial,
      ErrorCode.BAD_VALUE,
      `value ${JSON.stringify(item.value)} is not a finite number (use a decimal point, no NaN or Infinity)`,
    );
  }
  if (item.intervalSeconds !== meter.intervalSeconds) {
    return rejection(
      serial,
      ErrorCode.INTERVAL_LENGTH_MISMATCH,
      `interval of ${item.intervalSeconds} s does not match meter ${serial}'s ${meter.intervalSeconds} s`,
    );
  }
  const rawStart = item.intervalStart;
  const ts =
    typeof rawStart === 'number'
      ? Number.isFinite(rawStart)
        ? rawStart
        : NaN
      : (parseInstant(rawStart) ?? NaN);
  if (ts !== ts) {
    return rejection(
      serial,
      ErrorCode.BAD_TIMESTAMP,
      `interval start ${JSON.stringify(item.intervalStart)} is not an ISO 8601 instant with an offset`,
    );
  }
  const stepMs = meter.intervalSeconds * 1000;
  if (ts < EARLIEST_READING_MS) {
    return rejection(
      serial,
      ErrorCode.BAD_TIMESTAMP,
      `interval start ${new Date(ts).toISOString()} is before ${new Date(EARLIEST_READING_MS).toISOString()}`,
    );
  }
  if (ts + stepMs > opts.now + opts.clockToleranceSeconds * 1000) {
    return rejection(
      serial,
      ErrorCode.FUTURE_TIMESTAMP,
      `interval ${safeIso(ts)} ends in the future (clock tolerance ${opts.clockToleranceSeconds} s)`,
    );
  }
  if (ts % stepMs !== 0) {
    return rejection(
      serial,
      ErrorCode.MISALIGNED_INTERVAL,
      `interval start ${safeIso(ts)} is not on a ${meter.intervalSeconds} s boundary`,
    );
  }
  if (ts < meter.installedAt || (meter.removedAt !== null && ts >= meter.removedAt)) {
    return rejection(
      serial,
      ErrorCode.OUTSIDE_INSTALLATION,
      `interval ${safeIso(ts)} is outside meter ${serial}'s installation period`,
    );
  }
  let quality: number = Quality.VALID;
  if (item.quality !== undefined && item.quality !== null) {
    if (!isQualityCode(item.quality)) {
      return rejection(
        serial,
        ErrorCode.BAD_VALUE,
        `quality code ${item.quality} is not an ESPI code`,
      );
    }
    quality = item.quality;
  }
  if (!into) {
    return {
      meterId: meter.id,
      channel: channelCode(channel),
      ts,
      intervalSeconds: meter.intervalSeconds,
      value: value * toKwhFactor(unit),
      quality,
    };
  }
  into.meterId = meter.id;
  into.channel = channelCode(channel);
  into.ts = ts;
  into.intervalSeconds = meter.intervalSeconds;
  into.value = value * toKwhFactor(unit);
  into.quality = quality;
  return into;
}

/** A row-level rejection (without its position, which the caller adds). */
function rejection(serial: string, code: ErrorCode, message: string): Omit<Rejection, 'index'> {
  return { code, message, meterSerial: serial };
}

function safeIso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

// ---------------------------------------------------------------------------------------------
// Day rows and patches

/** The stored state of one meter-channel-day. */
export interface DayRow {
  meterId: number;
  channel: 1 | 2;
  /** epoch day number (UTC days since 1970-01-01) */
  day: number;
  /** kWh per interval; NaN where the day has no reading (see isMissing) */
  vals: Float64Array;
  quality: Uint8Array;
  batches: number[];
  /** per-interval index into batches; null → all 0 */
  batchIdx: Uint16Array | null;
  versions: number[] | null;
  veeFlags: number[] | null;
  version: number;
}

export interface DayPatch {
  meterId: number;
  channel: 1 | 2;
  day: number;
  intervalsPerDay: number;
  /**
   * The readings in arrival order, as parallel columns (no object per reading): interval index
   * in the day, value (kWh), quality code.
   */
  idx: number[];
  values: number[];
  quality: number[];
}

export type ChangeReason = 'corrected_resend' | 'late_actual' | 'edit' | 'revee';

export interface HistoryEntry {
  meterId: number;
  channel: 1 | 2;
  ts: number;
  version: number;
  value: number | null;
  quality: number | null;
  batchId: number | null;
  newValue: number | null;
  newQuality: number;
  reason: ChangeReason;
}

export interface MergeResult {
  row: DayRow;
  accepted: number;
  unchanged: number;
  changed: number;
  history: HistoryEntry[];
  /** true when the stored row must be written */
  dirty: boolean;
}

export function dayKey(meterId: number, channel: number, day: number): string {
  return `${meterId}:${channel}:${day}`;
}

/** Groups validated readings into per meter-channel-day patches, keeping arrival order. */
export function groupIntoPatches(readings: readonly NormalizedReading[]): DayPatch[] {
  const g = new PatchGrouper();
  for (const r of readings) g.add(r);
  return g.patches();
}

/**
 * Collects validated readings into per meter-channel-day patches as they come (nothing of the
 * reading is kept but its patch entry, so a caller may pass the same object each time).
 */
export class PatchGrouper {
  private readonly byKey = new Map<string, OpenPatch>();
  // Files list a meter's intervals together: most readings belong to the patch of the
  // previous reading of their channel (a meter's two channels may alternate row by row).
  private readonly lastOf: [OpenPatch | undefined, OpenPatch | undefined, OpenPatch | undefined] = [
    undefined,
    undefined,
    undefined,
  ];

  add(r: NormalizedReading): void {
    const day = Math.floor(r.ts / DAY_MS);
    const last = this.lastOf[r.channel];
    let p =
      last && last.day === day && last.meterId === r.meterId && last.channel === r.channel
        ? last
        : undefined;
    if (!p) {
      const key = dayKey(r.meterId, r.channel, day);
      p = this.byKey.get(key);
      if (!p) {
        // Room for a whole day up front: grown by push, a day's three columns would be
        // reallocated four times each on the way to 96 readings.
        const n = 86400 / r.intervalSeconds;
        p = {
          meterId: r.meterId,
          channel: r.channel,
          day,
          intervalsPerDay: n,
          idx: new Array<number>(n),
          values: new Array<number>(n),
          quality: new Array<number>(n),
          count: 0,
        };
        this.byKey.set(key, p);
      }
      this.lastOf[r.channel] = p;
    }
    const k = p.count++;
    p.idx[k] = (r.ts - day * DAY_MS) / (r.intervalSeconds * 1000);
    p.values[k] = r.value;
    p.quality[k] = r.quality;
  }

  patches(): DayPatch[] {
    const out: DayPatch[] = [];
    for (const p of this.byKey.values()) {
      p.idx.length = p.values.length = p.quality.length = p.count;
      out.push({
        meterId: p.meterId,
        channel: p.channel,
        day: p.day,
        intervalsPerDay: p.intervalsPerDay,
        idx: p.idx,
        values: p.values,
        quality: p.quality,
      });
    }
    return out;
  }
}

/** A patch being filled: its columns have room for a day, `count` of it used. */
interface OpenPatch extends DayPatch {
  count: number;
}

export function emptyDayRow(patch: DayPatch): DayRow {
  return {
    meterId: patch.meterId,
    channel: patch.channel,
    day: patch.day,
    vals: new Float64Array(patch.intervalsPerDay).fill(NaN),
    quality: new Uint8Array(patch.intervalsPerDay).fill(MISSING_QUALITY),
    batches: [],
    batchIdx: null,
    versions: null,
    veeFlags: null,
    version: 0,
  };
}

/** Whether a day row's value is a missing interval (NaN; a reading is never NaN). */
export function isMissing(v: number): boolean {
  return v !== v;
}

/** Two stored values are the same reading when they are the same float4. */
export function sameValue(a: number, b: number): boolean {
  return Math.fround(a) === Math.fround(b);
}

/**
 * Merges a patch into a day. A missing interval takes the new value (accepted); the same
 * value and quality again is a no-op (unchanged); anything else replaces the value, bumps the
 * interval's version and leaves the replaced version in the history (changed).
 */
export function mergeDay(
  existing: DayRow | undefined,
  patch: DayPatch,
  batchId: number,
  reasonOverride?: ChangeReason,
): MergeResult {
  const base = existing ?? emptyDayRow(patch);
  if (base.vals.length !== patch.intervalsPerDay) {
    throw new Error(
      `day ${patch.day} of meter ${patch.meterId} holds ${base.vals.length} intervals, the patch ${patch.intervalsPerDay}`,
    );
  }
  // A new day is built in place; a stored one is copied first (the caller keeps it).
  const row: DayRow =
    existing === undefined
      ? base
      : {
          ...base,
          vals: base.vals.slice(),
          quality: base.quality.slice(),
          batches: base.batches.slice(),
          batchIdx: base.batchIdx ? base.batchIdx.slice() : null,
          versions: base.versions ? base.versions.slice() : null,
        };
  let accepted = 0;
  let unchanged = 0;
  let changed = 0;
  const history: HistoryEntry[] = [];
  const stepMs = DAY_MS / patch.intervalsPerDay;
  let batchSlot = -1;
  const slot = (): number => {
    if (batchSlot < 0) {
      batchSlot = row.batches.indexOf(batchId);
      if (batchSlot < 0) {
        row.batches.push(batchId);
        batchSlot = row.batches.length - 1;
      }
    }
    return batchSlot;
  };
  const setBatch = (i: number) => {
    const s = slot();
    if (s === 0 && row.batchIdx === null) return;
    if (row.batchIdx === null) row.batchIdx = new Uint16Array(row.vals.length);
    row.batchIdx[i] = s;
  };
  for (let k = 0; k < patch.idx.length; k++) {
    const i = patch.idx[k]!;
    const value = patch.values[k]!;
    const quality = patch.quality[k]!;
    const old = row.vals[i]!;
    if (isMissing(old)) {
      row.vals[i] = value;
      row.quality[i] = quality;
      setBatch(i);
      accepted++;
      continue;
    }
    const oldQuality = row.quality[i]!;
    if (sameValue(old, value) && oldQuality === quality) {
      unchanged++;
      continue;
    }
    const oldVersion = row.versions ? row.versions[i]! : 1;
    const oldBatch = row.batches[row.batchIdx ? row.batchIdx[i]! : 0] ?? null;
    history.push({
      meterId: patch.meterId,
      channel: patch.channel,
      ts: patch.day * DAY_MS + i * stepMs,
      version: oldVersion,
      value: old,
      quality: oldQuality,
      batchId: oldBatch,
      newValue: value,
      newQuality: quality,
      reason:
        reasonOverride ??
        (isSubstitute(oldQuality) && !isSubstitute(quality) ? 'late_actual' : 'corrected_resend'),
    });
    if (!row.versions) row.versions = new Array<number>(row.vals.length).fill(1);
    row.versions[i] = oldVersion + 1;
    row.vals[i] = value;
    row.quality[i] = quality;
    setBatch(i);
    changed++;
  }
  const dirty = accepted + changed > 0;
  if (dirty) {
    row.version = base.version + 1;
    compactBatches(row);
  }
  return { row, accepted, unchanged, changed, history, dirty };
}

/** Drops batches no interval refers to any more, so the dictionary stays small. */
function compactBatches(row: DayRow): void {
  if (!row.batchIdx) {
    row.batches = row.batches.slice(0, 1);
    return;
  }
  const used = new Set<number>();
  for (let i = 0; i < row.vals.length; i++)
    if (!isMissing(row.vals[i]!)) used.add(row.batchIdx[i]!);
  if (used.size === row.batches.length) return;
  const order = [...used].sort((a, b) => a - b);
  const remap = new Map(order.map((old, neu) => [old, neu]));
  row.batches = order.map((o) => row.batches[o]!);
  for (let i = 0; i < row.batchIdx.length; i++) row.batchIdx[i] = remap.get(row.batchIdx[i]!) ?? 0;
  if (row.batches.length <= 1) row.batchIdx = null;
}
