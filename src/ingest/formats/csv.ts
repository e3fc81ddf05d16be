/**
 * Generic head-end CSV, read through a mapping profile (csv-profile.ts): one streaming pass that
 * decodes UTF-8, splits records, maps columns by header name or position and turns each row
 * (long layout) or meter-day (wide layout) into ReadingInput items. Row-level problems become
 * rejections with the line number; structural ones throw MALFORMED_FILE or MISSING_COLUMN.
 */
import { ErrorCode, MeterdataError } from '../../errors';
import { plainDecimal, type ReadingInput } from '../../domain/readings';
import {
  type Channel,
  type EnergyUnit,
  isQualityCode,
  parseEnergyUnit,
} from '../../domain/channel';
import {
  ChunkBuilder,
  DEFAULT_CHUNK_SIZE,
  holdsAt,
  malformed,
  maxRecordBytesOf,
  parseDecimal,
  positiveInt,
} from './common';
import {
  type ColumnRef,
  type CsvProfile,
  DEFAULT_CSV_PROFILE,
  type PowerUnit,
  type ResolvedCsvProfile,
  parsePowerUnit,
  resolveCsvProfile,
} from './csv-profile';
import { RecordReader } from './records';
import {
  canonicalInstantSeconds,
  LocalTimeResolver,
  type ParsedTime,
  parseTimeZone,
  timestampParser,
} from './time';
import type { ParsedChunk, ParseOptions, RecordKey, StructureCheckOptions } from './types';
import { decodeUtf8 } from './utf8';

const POWER_TO_ENERGY: Record<PowerUnit, EnergyUnit> = { W: 'Wh', kW: 'kWh', MW: 'MWh' };
const INTERVAL_RE = /^\d{1,5}$/;
const QUALITY_RE = /^\d{1,3}$/;
/** raw channel labels remembered for rows read unsplit */
const MAX_CHANNEL_RAWS = 8;

/** A row-level problem: the row (or cell) is rejected with this code and message. */
class RowError {
  constructor(
    readonly code: ErrorCode,
    readonly message: string,
  ) {}
}

/** Column indexes resolved against the header (or the first row). -1: not mapped. */
interface Layout {
  width: number;
  names: string[] | undefined;
  meter: number[];
  meterSeparator: string;
  channel: number;
  timestamp: number;
  date: number;
  time: number;
  value: number;
  unit: number;
  quality: number;
  intervalSeconds: number;
  intervalFrom: number;
}

/** Returns a parser for files in `profile`'s layout (validated now, before any input). */
export function csvParser(
  profile: CsvProfile | ResolvedCsvProfile = DEFAULT_CSV_PROFILE,
): (input: AsyncIterable<Buffer>, opts?: ParseOptions) => AsyncGenerator<ParsedChunk> {
  const resolved = resolveCsvProfile(profile);
  return (input, opts) => parseCsv(input, resolved, opts);
}

export async function* parseCsv(
  input: AsyncIterable<Buffer>,
  profile: ResolvedCsvProfile,
  opts: ParseOptions = {},
): AsyncGenerator<ParsedChunk> {
  const chunkSize = positiveInt(opts.chunkSize, DEFAULT_CHUNK_SIZE, 'chunkSize');
  const maxRecordBytes = maxRecordBytesOf(opts);
  checkMeterOption(profile, opts.meter);
  const rows = new RowMapper(profile, opts.meter);
  const builder = new ChunkBuilder(chunkSize);
  const reader = new RecordReader({
    delimiter: profile.delimiter,
    quoting: true,
    maxRecordBytes,
    skipLines: profile.skipRows,
  });
  const onRecord = (fields: string[], line: number) => rows.record(fields, line, builder);
  reader.takeUnsplit = (text, start, end, line) => rows.unsplitRow(text, start, end, line, builder);
  let bytesRead = 0;
  for await (const piece of decodeUtf8(input)) {
    reader.push(piece, onRecord);
    bytesRead = piece.byteEnd;
    yield* builder.drain(bytesRead);
  }
  reader.end(onRecord);
  if (!rows.started) throw emptyFile(profile, reader.currentLine);
  yield* builder.flush(bytesRead);
}

/** The structural error of a file without a single record. */
function emptyFile(profile: ResolvedCsvProfile, line: number): Error {
  return malformed(
    profile.hasHeader
      ? 'the file has no header line (it is empty); expected a header naming the columns'
      : 'the file is empty',
    { line },
  );
}

/** A profile either maps the meter column or needs the serial from --meter, never both. */
function checkMeterOption(profile: ResolvedCsvProfile, meter: string | undefined): void {
  const mapsMeter = profile.columns.meter !== undefined || profile.meterColumns !== undefined;
  if (!mapsMeter && !meter) {
    throw new MeterdataError(
      ErrorCode.MISSING_COLUMN,
      `profile ${profile.name} maps no meter column: pass the meter serial (--meter <serial>)`,
    );
  }
  if (mapsMeter && meter) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `profile ${profile.name} reads the meter from the file; --meter is only for profiles without a meter column`,
    );
  }
}

/**
 * The structural half of parseCsv, for the landing: the same decoding, quoting, record-size,
 * header and empty-file checks (so a file it passes can only have row-level problems), without
 * turning rows into readings. Yields once per piece so the caller can store bytes as it goes;
 * returns the physical lines up to and including the header (or the first row of a profile
 * without one), which a worker prepends to a later part of the file to parse it alone.
 */
export async function* checkCsvStructure(
  input: AsyncIterable<Buffer>,
  profile: ResolvedCsvProfile,
  opts: StructureCheckOptions = {},
): AsyncGenerator<void, number> {
  const maxRecordBytes = maxRecordBytesOf(opts);
  checkMeterOption(profile, opts.meter);
  const rows = new RowMapper(profile, opts.meter);
  const discard = new ChunkBuilder(Number.MAX_SAFE_INTEGER);
  const reader = new RecordReader({
    delimiter: profile.delimiter,
    quoting: true,
    maxRecordBytes,
    skipLines: profile.skipRows,
  });
  let preambleLines = 0;
  const onRecord = (fields: string[], line: number) => {
    if (rows.started) return;
    rows.record(fields, line, discard); // maps the header: MISSING_COLUMN is thrown here
    let extra = 0;
    for (const f of fields)
      for (let i = f.indexOf('\n'); i >= 0; i = f.indexOf('\n', i + 1)) extra++;
    preambleLines = line + extra;
    reader.splitting = false;
    const key = rows.recordKey();
    if (key) opts.onRecordKey?.(key);
  };
  for await (const piece of decodeUtf8(input)) {
    reader.push(piece, onRecord);
    yield;
  }
  reader.end(onRecord);
  if (!rows.started) throw emptyFile(profile, reader.currentLine);
  return preambleLines;
}

/**
 * Remembers the last call: exports listing every meter at one timestamp before the next repeat
 * the same string row after row.
 */
function lastValueMemo<T>(f: (raw: string) => T): (raw: string) => T {
  let lastRaw: string | undefined;
  let last: T;
  return (raw) => {
    if (raw !== lastRaw) {
      last = f(raw);
      lastRaw = raw;
    }
    return last;
  };
}

/** Whether text[start, end) is exactly `raw`. */
function fieldIs(text: string, start: number, end: number, raw: string | undefined): boolean {
  return raw !== undefined && end - start === raw.length && holdsAt(text, start, raw);
}

/** Field bounds of a row read unsplit (see RowMapper.unsplitRow). */
interface UnsplitLayout {
  starts: Int32Array;
  ends: Int32Array;
  intervalEnd: boolean;
}

/** Turns records into items for one file (holds the header mapping and the ordering state). */
class RowMapper {
  private layout: Layout | undefined;
  private readonly parseTime: (raw: string) => ParsedTime;
  private readonly resolver: LocalTimeResolver | undefined;
  private readonly channels = new Map<string, Channel>();
  private readonly qualities = new Map<string, number>();
  private readonly constChannel: Channel | undefined;
  private readonly constUnit: string | undefined;
  private readonly constInterval: number | undefined;
  /** ambiguousTime 'order': the last instant seen per meter and channel */
  private readonly lastInstant = new Map<string, number>();
  started = false;

  constructor(
    private readonly p: ResolvedCsvProfile,
    private readonly meterOption: string | undefined,
  ) {
    this.parseTime = lastValueMemo(timestampParser(p.timestampFormat));
    const zone = p.timeZone === undefined ? undefined : parseTimeZone(p.timeZone);
    this.resolver = zone ? new LocalTimeResolver(zone) : undefined;
    this.channels.set('delivered', 'delivered');
    this.channels.set('received', 'received');
    for (const [label, ch] of Object.entries(p.channelMap)) {
      this.channels.set(label.trim().toLowerCase(), ch);
    }
    for (const [label, q] of Object.entries(p.qualityMap)) {
      this.qualities.set(label.trim().toLowerCase(), q);
    }
    const c = p.columns;
    this.constChannel = typeof c.channel === 'object' ? c.channel.constant : undefined;
    this.constUnit = typeof c.unit === 'object' ? c.unit.constant : undefined;
    this.constInterval =
      typeof c.intervalSeconds === 'object' ? c.intervalSeconds.constant : undefined;
  }

  /**
   * The meter of a row from its unquoted line (the meter columns joined), once the layout is
   * known; null without meter columns (one meter given by --meter) or a one-character delimiter.
   */
  recordKey(): RecordKey | null {
    const l = this.layout;
    const d = this.p.delimiter;
    if (!l || l.meter.length === 0 || d.length !== 1) return null;
    const cols = l.meter;
    return (line) => {
      const f = line.split(d);
      if (f.length !== l.width) return null;
      return cols.length === 1 ? f[cols[0]!]!.trim() : cols.map((c) => f[c]!.trim()).join('\u0000');
    };
  }

  record(fields: string[], line: number, out: ChunkBuilder): void {
    if (!this.started) {
      this.started = true;
      if (this.p.hasHeader) {
        this.layout = this.mapColumns(fields, line, true);
        this.unsplit = this.unsplitLayout(this.layout);
        return;
      }
    }
    if (fields.length === 1 && fields[0]!.trim() === '') return; // a blank line
    this.layout ??= this.mapColumns(fields, line, false);
    const l = this.layout;
    this.unsplit ??= this.unsplitLayout(l);
    if (fields.length !== l.width) {
      out.reject(
        line,
        ErrorCode.BAD_VALUE,
        `line has ${fields.length} field${fields.length === 1 ? '' : 's'} where the ${this.p.hasHeader ? 'header has' : 'first row has'} ${l.width}; rows are never shifted to fit`,
      );
      return;
    }
    if (this.p.layout === 'wide') this.wideRow(fields, line, l, out);
    else this.longRow(fields, line, l, out);
  }

  /**
   * The common case of a long-layout row read straight from the line, without splitting it:
   * every field is in its usual shape (a canonical ISO instant, a plain decimal, the channel,
   * interval and unit text of the row before, no surrounding spaces). Returns false, having
   * added nothing, for anything else, and the row then goes the general way through record(),
   * which gives the same item or the rejection; so this changes the cost of a row, never its
   * outcome.
   */
  unsplitRow(text: string, start: number, end: number, line: number, out: ChunkBuilder): boolean {
    const l = this.layout;
    const fast = this.unsplit;
    if (!l || !fast) return false;
    // Field k is [starts[k], ends[k]).
    const { starts, ends } = fast;
    const last = l.width - 1;
    let at = start;
    for (let k = 0; k < last; k++) {
      const d = text.indexOf(this.p.delimiter, at);
      if (d < 0 || d >= end) return false;
      starts[k] = at;
      ends[k] = d;
      at = d + 1;
    }
    const extra = text.indexOf(this.p.delimiter, at);
    if (extra >= 0 && extra < end) return false;
    starts[last] = at;
    ends[last] = end;

    let meter: string;
    if (l.meter.length === 0) meter = this.meterOption!;
    else {
      const k = l.meter[0]!;
      const a = starts[k]!;
      const b = ends[k]!;
      if (b <= a || text.charCodeAt(a) <= 32 || text.charCodeAt(b - 1) <= 32) return false;
      const prev = this.lastMeter;
      if (fieldIs(text, a, b, prev)) meter = prev!;
      else meter = this.lastMeter = text.slice(a, b);
    }
    let channel: Channel;
    if (this.constChannel) channel = this.constChannel;
    else {
      const a = starts[l.channel]!;
      const b = ends[l.channel]!;
      if (fieldIs(text, a, b, this.lastChannelRaw)) channel = this.lastChannel;
      else {
        // Rows of a meter's two channels may alternate (interval by interval): a label read
        // before is recognised in place too, and becomes the last one.
        // (a loop, not findIndex: a closure over the line would cost every row an allocation)
        const raws = this.channelRaws;
        let k = 0;
        while (k < raws.length && !fieldIs(text, a, b, raws[k])) k++;
        if (k === raws.length) return false;
        channel = this.lastChannel = this.channelValues[k]!;
        this.lastChannelRaw = this.channelRaws[k];
      }
    }
    let seconds: number;
    if (this.constInterval !== undefined) seconds = this.constInterval;
    else if (l.intervalSeconds < 0) {
      if (this.p.defaultIntervalSeconds === undefined) return false;
      seconds = this.p.defaultIntervalSeconds;
    } else if (
      fieldIs(text, starts[l.intervalSeconds]!, ends[l.intervalSeconds]!, this.lastIntervalRaw)
    ) {
      seconds = this.lastInterval;
    } else return false;
    const lastUnit = this.lastUnit;
    if (!lastUnit || lastUnit.seconds !== undefined) return false;
    if (this.constUnit !== undefined) {
      if (this.constUnit !== this.lastUnitRaw) return false;
    } else if (!fieldIs(text, starts[l.unit]!, ends[l.unit]!, this.lastUnitRaw)) return false;
    const at0s = canonicalInstantSeconds(text, starts[l.timestamp]!, ends[l.timestamp]!);
    if (at0s !== at0s) return false;
    const at0 = at0s * 1000;
    const value = plainDecimal(text, starts[l.value]!, ends[l.value]!);
    if (value === undefined || Math.abs(value) > 1e12) return false;
    const begins = fast.intervalEnd ? at0 - seconds * 1000 : at0;
    out.columns.push(meter, channel, begins, seconds, value, lastUnit.unit, null, line);
    return true;
  }

  /** set with the layout when the profile's rows can be read unsplit (see unsplitRow) */
  private unsplit: UnsplitLayout | null = null;
  private lastMeter: string | undefined;

  private unsplitLayout(l: Layout): UnsplitLayout | null {
    const p = this.p;
    const simple =
      p.layout === 'long' &&
      p.timestampFormat === 'iso' &&
      p.decimalSeparator === '.' &&
      p.valueKind === 'energy' &&
      p.ambiguousTime !== 'order' &&
      l.meter.length <= 1 &&
      l.timestamp >= 0 &&
      l.value >= 0 &&
      l.quality < 0;
    return simple
      ? {
          starts: new Int32Array(l.width),
          ends: new Int32Array(l.width),
          intervalEnd: p.timestampConvention === 'interval_end',
        }
      : null;
  }

  // -------------------------------------------------------------------------------------------
  // Column mapping

  private mapColumns(fields: string[], line: number, header: boolean): Layout {
    const width = fields.length;
    const names = header ? fields.map((f) => f.replace(/^\uFEFF/, '').trim()) : undefined;
    const lower = names?.map((n) => n.toLowerCase());
    const missing: string[] = [];
    const resolve = (ref: ColumnRef | { constant: unknown } | undefined): number => {
      if (ref === undefined || typeof ref === 'object') return -1;
      if (typeof ref === 'number') {
        if (ref >= width) {
          missing.push(`position ${ref}`);
          return -1;
        }
        return ref;
      }
      const key = ref.trim().toLowerCase();
      const i = lower!.indexOf(key);
      if (i < 0) {
        missing.push(JSON.stringify(ref));
        return -1;
      }
      if (lower!.indexOf(key, i + 1) >= 0) {
        throw malformed(`column ${JSON.stringify(ref)} appears twice in the header; keep one`, {
          line,
        });
      }
      return i;
    };
    const c = this.p.columns;
    const meterRefs = this.p.meterColumns?.columns ?? (c.meter === undefined ? [] : [c.meter]);
    const layout: Layout = {
      width,
      names,
      meter: meterRefs.map(resolve),
      meterSeparator: this.p.meterColumns?.separator ?? '',
      channel: resolve(c.channel),
      timestamp: resolve(c.timestamp),
      date: resolve(c.date),
      time: resolve(c.time),
      value: resolve(c.value),
      unit: resolve(c.unit),
      quality: resolve(c.quality),
      intervalSeconds: resolve(c.intervalSeconds),
      intervalFrom: resolve(this.p.intervalColumns?.from),
    };
    const ic = this.p.intervalColumns;
    if (ic && layout.intervalFrom >= 0 && layout.intervalFrom + ic.count > width) {
      missing.push(
        `${ic.count} interval columns from ${JSON.stringify(ic.from)} (the ${header ? 'header' : 'first row'} has ${width - layout.intervalFrom})`,
      );
    }
    if (missing.length) {
      const where = header
        ? `the header (line ${line}) lacks`
        : `the first row (line ${line}) has ${width} fields, so it lacks`;
      throw new MeterdataError(
        ErrorCode.MISSING_COLUMN,
        `${where} column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} that profile ${this.p.name} maps${header ? ` (found: ${names!.join(', ')})` : ''}`,
        { details: { line, missing, ...(names ? { found: names } : {}) } },
      );
    }
    return layout;
  }

  // -------------------------------------------------------------------------------------------
  // Fields shared by both layouts

  private meterOf(f: string[], l: Layout): string {
    if (l.meter.length === 0) return this.meterOption!;
    if (l.meter.length === 1) {
      const s = f[l.meter[0]!]!.trim();
      if (!s) throw new RowError(ErrorCode.BAD_VALUE, 'the meter column is empty');
      return s;
    }
    const parts = l.meter.map((i) => f[i]!.trim());
    if (parts.some((s) => !s)) {
      throw new RowError(ErrorCode.BAD_VALUE, 'a meter identity column is empty');
    }
    return parts.join(l.meterSeparator);
  }

  // Channel, interval length and unit take a few values per file: each remembers the last
  // raw text it accepted (a repeat costs one string comparison).
  private lastChannelRaw: string | undefined;
  private lastChannel: Channel = 'delivered';
  /** the raw channel labels accepted so far (a few per file), for unsplitRow */
  private readonly channelRaws: string[] = [];
  private readonly channelValues: Channel[] = [];
  private lastIntervalRaw: string | undefined;
  private lastInterval = 0;
  private lastUnitRaw: string | undefined;
  private lastUnit: { unit: EnergyUnit; seconds?: number } | undefined;

  private channelOf(f: string[], l: Layout): Channel {
    if (this.constChannel) return this.constChannel;
    const raw = f[l.channel]!;
    if (raw === this.lastChannelRaw) return this.lastChannel;
    const ch = this.channelLabel(raw);
    this.lastChannelRaw = raw;
    this.lastChannel = ch;
    if (this.channelRaws.length < MAX_CHANNEL_RAWS && !this.channelRaws.includes(raw)) {
      this.channelRaws.push(raw);
      this.channelValues.push(ch);
    }
    return ch;
  }

  private channelLabel(raw: string): Channel {
    const label = raw.trim();
    const ch = this.channels.get(label.toLowerCase());
    if (!ch) {
      throw new RowError(
        ErrorCode.UNKNOWN_CHANNEL,
        `channel label ${JSON.stringify(label)} is not mapped; add it to the profile's channelMap (known: ${[...this.channels.keys()].join(', ')})`,
      );
    }
    return ch;
  }

  private intervalOf(f: string[], l: Layout): number {
    if (this.constInterval !== undefined) return this.constInterval;
    if (l.intervalSeconds >= 0 && f[l.intervalSeconds] === this.lastIntervalRaw) {
      return this.lastInterval;
    }
    const n = this.intervalCell(f, l);
    if (l.intervalSeconds >= 0) {
      this.lastIntervalRaw = f[l.intervalSeconds];
      this.lastInterval = n;
    }
    return n;
  }

  private intervalCell(f: string[], l: Layout): number {
    if (l.intervalSeconds >= 0) {
      const raw = f[l.intervalSeconds]!.trim();
      if (raw) {
        const n = INTERVAL_RE.test(raw) ? Number(raw) : 0;
        if (n < 1 || n > 86400) {
          throw new RowError(
            ErrorCode.BAD_VALUE,
            `interval length ${JSON.stringify(raw)} is not a whole number of seconds from 1 to 86400`,
          );
        }
        return n;
      }
    }
    if (this.p.defaultIntervalSeconds !== undefined) return this.p.defaultIntervalSeconds;
    throw new RowError(
      ErrorCode.BAD_VALUE,
      'the interval length is empty and the profile has no defaultIntervalSeconds',
    );
  }

  /**
   * The unit items are written in; `seconds` is set when values are average power (energy =
   * power × interval hours, computed as value × seconds / 3600 to round once).
   */
  private unitOf(f: string[], l: Layout, seconds: number): { unit: EnergyUnit; seconds?: number } {
    const cell = this.constUnit ?? f[l.unit]!;
    // An energy unit does not depend on the interval; a power unit's conversion does.
    if (cell === this.lastUnitRaw && this.lastUnit && this.lastUnit.seconds === undefined) {
      return this.lastUnit;
    }
    const u = this.unitCell(cell.trim(), seconds);
    this.lastUnitRaw = cell;
    this.lastUnit = u;
    return u;
  }

  private unitCell(raw: string, seconds: number): { unit: EnergyUnit; seconds?: number } {
    if (this.p.valueKind === 'energy') {
      const unit = parseEnergyUnit(raw);
      if (!unit) {
        const hint = parsePowerUnit(raw) ? ' (a power unit: set valueKind "average_power")' : '';
        throw new RowError(
          ErrorCode.BAD_UNIT,
          `unit ${JSON.stringify(raw)} is not Wh, kWh or MWh${hint}`,
        );
      }
      return { unit };
    }
    const power = parsePowerUnit(raw);
    if (!power) {
      throw new RowError(
        ErrorCode.BAD_UNIT,
        `unit ${JSON.stringify(raw)} is not W, kW or MW (the profile reads average power)`,
      );
    }
    return { unit: POWER_TO_ENERGY[power], seconds };
  }

  private valueOf(raw: string, powerSeconds: number | undefined, where = ''): number {
    const v = parseDecimal(raw, this.p.decimalSeparator);
    if (v === undefined) {
      const s = raw.trim();
      let hint = '';
      if (this.p.decimalSeparator === '.' && /^[+-]?\d+,\d+$/.test(s)) {
        hint = ' (a decimal comma, but the profile says decimalSeparator ".")';
      } else if (this.p.decimalSeparator === ',' && /^[+-]?\d+\.\d+$/.test(s)) {
        hint = ' (a decimal point, but the profile says decimalSeparator ",")';
      } else if (!s) hint = ' (empty)';
      throw new RowError(
        ErrorCode.BAD_VALUE,
        `value${where} ${JSON.stringify(raw)} is not a finite number${hint}`,
      );
    }
    return powerSeconds === undefined ? v : (v * powerSeconds) / 3600;
  }

  private qualityOf(f: string[], l: Layout): number | undefined {
    if (l.quality < 0) return undefined;
    const raw = f[l.quality]!.trim();
    if (!raw) return undefined;
    const mapped = this.qualities.get(raw.toLowerCase());
    if (mapped !== undefined) return mapped;
    if (QUALITY_RE.test(raw) && isQualityCode(Number(raw))) return Number(raw);
    throw new RowError(
      ErrorCode.BAD_VALUE,
      `quality ${JSON.stringify(raw)} is neither an ESPI quality code nor a label in the profile's qualityMap`,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Long layout: one row per interval

  private longRow(f: string[], line: number, l: Layout, out: ChunkBuilder): void {
    let meter: string | undefined;
    try {
      meter = this.meterOf(f, l);
      const channel = this.channelOf(f, l);
      const seconds = this.intervalOf(f, l);
      const raw = l.timestamp >= 0 ? f[l.timestamp]! : `${f[l.date]!.trim()} ${f[l.time]!.trim()}`;
      const at = this.instantOf(raw, meter, channel);
      const u = this.unitOf(f, l, seconds);
      const value = this.valueOf(f[l.value]!, u.seconds);
      const quality = this.qualityOf(f, l);
      const start = this.p.timestampConvention === 'interval_end' ? at - seconds * 1000 : at;
      out.columns.push(meter, channel, start, seconds, value, u.unit, quality, line);
    } catch (e) {
      if (!(e instanceof RowError)) throw e;
      out.reject(line, e.code, e.message, meter);
    }
  }

  /** The instant a row's timestamp names, applying the zone and the ambiguity rule. */
  private instantOf(raw: string, meter: string, channel: Channel): number {
    const t = this.parseTime(raw);
    let ms: number;
    switch (t.kind) {
      case 'error':
        throw new RowError(ErrorCode.BAD_TIMESTAMP, t.message);
      case 'instant':
        ms = t.ms;
        break;
      case 'local':
        ms = this.resolveLocal(raw, t.ms, meter, channel);
        break;
      default: {
        const never: never = t;
        throw new Error(`unexpected time ${String(never)}`);
      }
    }
    if (this.p.ambiguousTime === 'order') this.lastInstant.set(`${meter}\u0000${channel}`, ms);
    return ms;
  }

  private resolveLocal(raw: string, localMs: number, meter: string, channel: Channel): number {
    if (!this.resolver) {
      throw new RowError(
        ErrorCode.BAD_TIMESTAMP,
        `timestamp ${JSON.stringify(raw)} has no offset and the profile sets no timeZone`,
      );
    }
    const r = this.resolver.resolve(localMs);
    const zone = this.p.timeZone;
    switch (r.kind) {
      case 'unique':
        return r.ms;
      case 'nonexistent':
        throw new RowError(
          ErrorCode.NONEXISTENT_LOCAL_TIME,
          `local time ${JSON.stringify(raw.trim())} does not exist in ${zone} (the clocks skip it when daylight saving time starts)`,
        );
      case 'ambiguous':
        switch (this.p.ambiguousTime) {
          case 'earlier':
            return r.earlier;
          case 'later':
            return r.later;
          case 'order': {
            const prev = this.lastInstant.get(`${meter}\u0000${channel}`);
            const picked = this.byOrder(r.earlier, r.later, prev);
            if (picked !== undefined) return picked;
            throw new RowError(
              ErrorCode.AMBIGUOUS_LOCAL_TIME,
              `local time ${JSON.stringify(raw.trim())} happens twice in ${zone} and the rows of meter ${meter} (${channel}) are not in ${this.p.rowOrder === 'newest_first' ? 'newest-first' : 'oldest-first'} order here`,
            );
          }
          case 'reject':
            throw new RowError(
              ErrorCode.AMBIGUOUS_LOCAL_TIME,
              `local time ${JSON.stringify(raw.trim())} happens twice in ${zone} (daylight saving time ends); give the offset, or set ambiguousTime in the profile`,
            );
          default: {
            const never: never = this.p.ambiguousTime;
            throw new Error(`unexpected rule ${String(never)}`);
          }
        }
      default: {
        const never: never = r;
        throw new Error(`unexpected resolution ${String(never)}`);
      }
    }
  }

  /**
   * The 'order' rule: rows of one meter and channel run oldest-first (newest-first), so a
   * repeated local time is the earliest candidate after (latest before) the previous row.
   */
  private byOrder(earlier: number, later: number, prev: number | undefined): number | undefined {
    if (this.p.rowOrder === 'newest_first') {
      if (prev === undefined || later < prev) return later;
      return earlier < prev ? earlier : undefined;
    }
    if (prev === undefined || earlier > prev) return earlier;
    return later > prev ? later : undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Wide layout: one row per meter-day, the day's intervals in consecutive columns

  private wideRow(f: string[], line: number, l: Layout, out: ChunkBuilder): void {
    let meter: string | undefined;
    let cells: {
      start: number;
      n: number;
      seconds: number;
      unit: EnergyUnit;
      powerSeconds: number | undefined;
    };
    let channel: Channel;
    let quality: number | undefined;
    try {
      meter = this.meterOf(f, l);
      channel = this.channelOf(f, l);
      const seconds = this.intervalOf(f, l);
      const u = this.unitOf(f, l, seconds);
      quality = this.qualityOf(f, l);
      const rawDate = f[l.date]!;
      const t = this.parseTime(rawDate);
      if (t.kind === 'error') throw new RowError(ErrorCode.BAD_TIMESTAMP, t.message);
      if (t.kind === 'instant' || t.ms % 86_400_000 !== 0) {
        throw new RowError(
          ErrorCode.BAD_TIMESTAMP,
          `date ${JSON.stringify(rawDate)} is not a plain local date (the wide layout reads one local day per row)`,
        );
      }
      const day = this.resolver!.dayBounds(t.ms);
      const n = Math.floor(day.ms / (seconds * 1000));
      const count = this.p.intervalColumns!.count;
      if (n > count) {
        throw new RowError(
          day.ms > 86_400_000 ? ErrorCode.AMBIGUOUS_LOCAL_TIME : ErrorCode.BAD_VALUE,
          `${JSON.stringify(rawDate.trim())} has ${n} intervals of ${seconds} s in ${this.p.timeZone} but the layout has only ${count} interval columns${day.ms > 86_400_000 ? ' (the repeated hour of a DST fall-back day has no columns)' : ''}`,
        );
      }
      cells = { start: day.start, n, seconds, unit: u.unit, powerSeconds: u.seconds };
    } catch (e) {
      if (!(e instanceof RowError)) throw e;
      out.reject(line, e.code, e.message, meter);
      return;
    }
    const count = this.p.intervalColumns!.count;
    const stepMs = cells.seconds * 1000;
    for (let k = 0; k < count; k++) {
      const col = l.intervalFrom + k;
      const raw = f[col]!;
      if (raw.length === 0 || raw.trim() === '') continue; // no reading for this interval
      const where = ` in column ${l.names ? JSON.stringify(l.names[col]) : col}`;
      if (k >= cells.n) {
        out.reject(
          line,
          cells.n * stepMs < 86_400_000 ? ErrorCode.NONEXISTENT_LOCAL_TIME : ErrorCode.BAD_VALUE,
          `value${where} is past the ${cells.n} intervals of this local day (a DST spring-forward day has fewer); leave it empty`,
          meter,
        );
        continue;
      }
      try {
        const value = this.valueOf(raw, cells.powerSeconds, where);
        const item: ReadingInput = {
          meterSerial: meter,
          channel,
          intervalStart: cells.start + k * stepMs,
          intervalSeconds: cells.seconds,
          value,
          unit: cells.unit,
        };
        if (quality !== undefined) item.quality = quality;
        out.add(item, line);
      } catch (e) {
        if (!(e instanceof RowError)) throw e;
        out.reject(line, e.code, e.message, meter);
      }
    }
  }
}
