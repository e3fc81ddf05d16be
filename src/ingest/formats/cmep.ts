/**
 * CMEP (California Metering Exchange Protocol) MEPMD01 interval records: one meter and one
 * channel per line, 14 header fields, then (date-time, protocol code, value) triplets. The
 * conventions chosen where files differ (time zone, interval end, units, quality codes) are in
 * docs/formats-headend.md with their sources.
 */
import { ErrorCode, MeterdataError } from '../../errors';
import { type Channel, type EnergyUnit, isQualityCode } from '../../domain/channel';
import { parseReadingValue } from '../../domain/readings';
import {
  ChunkBuilder,
  DEFAULT_CHUNK_SIZE,
  maxRecordBytesOf,
  malformed,
  positiveInt,
} from './common';
import { RecordReader } from './records';
import { LocalTimeResolver, parseCompactTimestamp, parseTimeZone } from './time';
import type { ParsedChunk, ParseOptions, StructureCheckOptions } from './types';
import { decodeUtf8 } from './utf8';

/** The CMEP units codes this importer understands (a REG suffix marks register reads). */
export type CmepUnit = 'WH' | 'KWH' | 'MWH' | 'W' | 'KW' | 'MW';

export interface CmepOptions {
  /** zone of the triplet date-times: 'UTC' (default), a fixed offset such as '-08:00' (local
   * standard time, as the protocol has it) or an IANA zone (local prevailing time) */
  timeZone?: string;
  /** what a triplet's date-time marks; default 'interval_end' (the CMEP convention) */
  timeConvention?: 'interval_end' | 'interval_start';
  /** repeated fall-back local times (IANA zones only): 'order' takes the one after the previous
   * triplet of the same record; default 'reject' */
  ambiguousTime?: 'reject' | 'earlier' | 'later' | 'order';
  /** the channel of records whose units do not say; default 'delivered' */
  channel?: Channel;
  /** extra or overriding units codes, e.g. { "KWHR": { "unit": "KWH", "channel": "received" } } */
  unitsMap?: Record<string, { unit: CmepUnit; channel?: Channel }>;
  /** protocol codes → ESPI quality codes, checked before the built-in rule (R → 0, E → 8, M → 7) */
  qualityMap?: Record<string, number>;
  /** which header field names the meter; default 'meter_id' (field 8) */
  meterField?: 'meter_id' | 'receiver_id' | 'receiver_customer_id' | 'sender_customer_id';
}

const RECORD_TYPE = 'MEPMD01';
const HEADER_FIELDS = 14;
const METER_FIELD_INDEX = {
  sender_customer_id: 3,
  receiver_id: 4,
  receiver_customer_id: 5,
  meter_id: 7,
} as const;

const UNITS: Record<CmepUnit, { energy: EnergyUnit; power: boolean }> = {
  WH: { energy: 'Wh', power: false },
  KWH: { energy: 'kWh', power: false },
  MWH: { energy: 'MWh', power: false },
  W: { energy: 'Wh', power: true },
  KW: { energy: 'kWh', power: true },
  MW: { energy: 'MWh', power: true },
};

const INTERVAL_RE = /^\d{8}$/;
const COUNT_RE = /^\d{1,6}$/;

class TripletError {
  constructor(
    readonly code: ErrorCode,
    readonly message: string,
  ) {}
}

interface Resolved {
  timeZone: string;
  resolver: LocalTimeResolver;
  intervalEnd: boolean;
  ambiguousTime: NonNullable<CmepOptions['ambiguousTime']>;
  channel: Channel;
  units: Map<string, { unit: CmepUnit; channel: Channel }>;
  quality: Map<string, number>;
  meterIndex: number;
}

function resolveOptions(o: CmepOptions = {}): Resolved {
  const bad = (msg: string) => new MeterdataError(ErrorCode.BAD_USER_INPUT, `CMEP option ${msg}`);
  const timeZone = o.timeZone ?? 'UTC';
  const zone = parseTimeZone(timeZone);
  if (!zone)
    throw bad(`timeZone ${JSON.stringify(timeZone)} is not UTC, a fixed offset or an IANA zone`);
  const channelOk = (c: unknown): c is Channel => c === 'delivered' || c === 'received';
  if (o.channel !== undefined && !channelOk(o.channel))
    throw bad('channel must be delivered or received');
  const channel = o.channel ?? 'delivered';
  const units = new Map<string, { unit: CmepUnit; channel: Channel }>();
  for (const u of Object.keys(UNITS) as CmepUnit[]) units.set(u, { unit: u, channel });
  for (const [code, m] of Object.entries(o.unitsMap ?? {})) {
    if (!m || !(m.unit in UNITS))
      throw bad(`unitsMap.${code}.unit must be one of ${Object.keys(UNITS).join(', ')}`);
    if (m.channel !== undefined && !channelOk(m.channel))
      throw bad(`unitsMap.${code}.channel must be delivered or received`);
    units.set(code.trim().toUpperCase(), { unit: m.unit, channel: m.channel ?? channel });
  }
  const quality = new Map<string, number>();
  for (const [code, q] of Object.entries(o.qualityMap ?? {})) {
    if (!isQualityCode(q)) throw bad(`qualityMap.${code} must be an ESPI quality code`);
    quality.set(code.trim().toUpperCase(), q);
  }
  const meterField = o.meterField ?? 'meter_id';
  if (!(meterField in METER_FIELD_INDEX))
    throw bad(`meterField must be one of ${Object.keys(METER_FIELD_INDEX).join(', ')}`);
  const ambiguousTime = o.ambiguousTime ?? 'reject';
  if (!['reject', 'earlier', 'later', 'order'].includes(ambiguousTime)) {
    throw bad('ambiguousTime must be reject, earlier, later or order');
  }
  const convention = o.timeConvention ?? 'interval_end';
  if (convention !== 'interval_end' && convention !== 'interval_start') {
    throw bad('timeConvention must be interval_end or interval_start');
  }
  return {
    timeZone,
    resolver: new LocalTimeResolver(zone),
    intervalEnd: convention === 'interval_end',
    ambiguousTime,
    channel,
    units,
    quality,
    meterIndex: METER_FIELD_INDEX[meterField],
  };
}

/** MMDDHHMM → seconds; months are not a fixed length, so they are refused. */
export function parseCmepInterval(raw: string): number | undefined {
  const s = raw.trim();
  if (!INTERVAL_RE.test(s) || s.slice(0, 2) !== '00') return undefined;
  const seconds =
    ((Number(s.slice(2, 4)) * 24 + Number(s.slice(4, 6))) * 60 + Number(s.slice(6, 8))) * 60;
  return seconds > 0 ? seconds : undefined;
}

/** A protocol code to an ESPI quality code (undefined: unknown). */
export function cmepQuality(code: string, overrides?: Map<string, number>): number | undefined {
  const s = code.trim().toUpperCase();
  const mapped = overrides?.get(s);
  if (mapped !== undefined) return mapped;
  switch (s.charAt(0)) {
    case '':
    case 'R':
      return 0; // a read (R0, "R 00 00"): the status digits are not interpreted
    case 'E':
      return 8; // estimated
    case 'M':
      return 7; // manually edited
    default:
      return undefined;
  }
}

export async function* parseCmep(
  input: AsyncIterable<Buffer>,
  opts: ParseOptions = {},
): AsyncGenerator<ParsedChunk> {
  const chunkSize = positiveInt(opts.chunkSize, DEFAULT_CHUNK_SIZE, 'chunkSize');
  const maxRecordBytes = maxRecordBytesOf(opts);
  const o = resolveOptions(opts.cmep);
  const builder = new ChunkBuilder(chunkSize);
  const reader = new RecordReader({ delimiter: ',', quoting: true, maxRecordBytes });
  let atEnd = false;
  let records = 0;
  const onRecord = (f: string[], line: number) => {
    records++;
    cmepRecord(f, line, o, builder, atEnd);
  };
  let bytesRead = 0;
  for await (const piece of decodeUtf8(input)) {
    reader.push(piece, onRecord);
    bytesRead = piece.byteEnd;
    yield* builder.drain(bytesRead);
  }
  atEnd = true;
  reader.end(onRecord);
  if (!reader.sawInput || records === 0) throw malformed('the file is empty (no CMEP records)');
  yield* builder.flush(bytesRead);
}

/** The structural half of parseCmep (see checkCsvStructure); CMEP has no preamble. */
export async function* checkCmepStructure(
  input: AsyncIterable<Buffer>,
  opts: StructureCheckOptions = {},
): AsyncGenerator<void, number> {
  const maxRecordBytes = maxRecordBytesOf(opts);
  const { meterIndex } = resolveOptions(opts.cmep);
  opts.onRecordKey?.((line) => {
    const f = line.split(',');
    return f.length >= HEADER_FIELDS ? f[meterIndex]!.trim() : null;
  });
  const reader = new RecordReader({ delimiter: ',', quoting: true, maxRecordBytes });
  reader.splitting = false;
  let records = 0;
  const onRecord = () => {
    records++;
  };
  for await (const piece of decodeUtf8(input)) {
    reader.push(piece, onRecord);
    yield;
  }
  reader.end(onRecord);
  if (!reader.sawInput || records === 0) throw malformed('the file is empty (no CMEP records)');
  return 0;
}

function cmepRecord(
  f: string[],
  line: number,
  o: Resolved,
  out: ChunkBuilder,
  lastUnterminated: boolean,
): void {
  const type = f[0]!.trim();
  if (f.length === 1 && !type) return; // a blank line
  if (type !== RECORD_TYPE) {
    out.reject(
      line,
      ErrorCode.BAD_VALUE,
      `record type ${JSON.stringify(type)} is not interval data (${RECORD_TYPE}); skipped`,
    );
    return;
  }
  if (f.length < HEADER_FIELDS) {
    if (lastUnterminated) {
      throw malformed(
        `the last line ends after ${f.length} of the ${HEADER_FIELDS} header fields (truncated file?)`,
        { line },
      );
    }
    out.reject(
      line,
      ErrorCode.BAD_VALUE,
      `${RECORD_TYPE} record has ${f.length} fields; ${HEADER_FIELDS} header fields come before the triplets`,
    );
    return;
  }
  const meter = f[o.meterIndex]!.trim();
  const countRaw = f[13]!.trim();
  if (!COUNT_RE.test(countRaw)) {
    out.reject(
      line,
      ErrorCode.BAD_VALUE,
      `triplet count ${JSON.stringify(countRaw)} is not a number`,
      meter,
    );
    return;
  }
  const count = Number(countRaw);
  const expected = HEADER_FIELDS + 3 * count;
  const trailingEmpty = f.length === expected + 1 && f[expected]!.trim() === '';
  if (f.length !== expected && !trailingEmpty) {
    if (lastUnterminated && f.length < expected) {
      throw malformed(
        `the last line has ${f.length} of the ${expected} fields its count of ${count} triplets promises (truncated file?)`,
        { line },
      );
    }
    out.reject(
      line,
      ErrorCode.BAD_VALUE,
      `the record declares ${count} triplets (${expected} fields) but has ${f.length} fields`,
      meter,
    );
    return;
  }
  const rejectAll = (code: ErrorCode, message: string) => {
    // One rejection per triplet, so rejected counts are counts of readings.
    for (let k = 0; k < count; k++) out.reject(line, code, message, meter || undefined);
  };
  if (!meter) {
    rejectAll(ErrorCode.BAD_VALUE, 'the record names no meter (see the meterField option)');
    return;
  }
  const purpose = f[8]!.trim().toUpperCase();
  if (purpose === 'SUMMARY') {
    rejectAll(ErrorCode.BAD_VALUE, 'SUMMARY records carry totals, not interval data; skipped');
    return;
  }
  const commodity = f[9]!.trim().toUpperCase();
  if (commodity && commodity !== 'E') {
    rejectAll(ErrorCode.BAD_UNIT, `commodity ${JSON.stringify(commodity)} is not electricity (E)`);
    return;
  }
  const unitsRaw = f[10]!.trim().toUpperCase();
  const units = o.units.get(unitsRaw);
  if (!units) {
    rejectAll(
      ErrorCode.BAD_UNIT,
      unitsRaw.endsWith('REG')
        ? `register reads (${unitsRaw}) are not interval data and are not imported yet`
        : `units ${JSON.stringify(unitsRaw)} are neither energy (WH, KWH, MWH) nor demand (W, KW, MW); map them with the unitsMap option`,
    );
    return;
  }
  const constRaw = f[11]!.trim();
  const constant = constRaw === '' ? 1 : parseReadingValue(constRaw);
  if (constant === undefined || constant <= 0) {
    rejectAll(
      ErrorCode.BAD_VALUE,
      `calculation constant ${JSON.stringify(constRaw)} is not a positive number`,
    );
    return;
  }
  const seconds = parseCmepInterval(f[12]!);
  if (seconds === undefined) {
    rejectAll(
      ErrorCode.BAD_VALUE,
      `interval ${JSON.stringify(f[12])} is not a MMDDHHMM length of minutes, hours or days`,
    );
    return;
  }
  const { energy, power } = UNITS[units.unit];
  // Average demand × the interval in hours = the interval's energy; multiplied before the one
  // division so it rounds once.
  const scale = (v: number) => (power ? (v * constant * seconds) / 3600 : v * constant);
  const stepMs = seconds * 1000;
  let prev: number | undefined;
  for (let k = 0, i = HEADER_FIELDS; k < count; k++, i += 3) {
    try {
      const rawTime = f[i]!.trim();
      let at: number;
      if (!rawTime) {
        if (prev === undefined) {
          throw new TripletError(
            ErrorCode.BAD_TIMESTAMP,
            `triplet ${k + 1} has no date-time and no previous one to count from`,
          );
        }
        at = prev + stepMs;
      } else {
        const before = prev;
        prev = undefined; // until this one is known
        at = tripletTime(rawTime, before, o);
      }
      prev = at;
      const quality = cmepQuality(f[i + 1]!, o.quality);
      if (quality === undefined) {
        throw new TripletError(
          ErrorCode.BAD_VALUE,
          `protocol code ${JSON.stringify(f[i + 1])} is not known (R…, E…, M…); map it with the qualityMap option`,
        );
      }
      const rawValue = f[i + 2]!;
      const v = parseReadingValue(rawValue);
      if (v === undefined) {
        throw new TripletError(
          ErrorCode.BAD_VALUE,
          `value ${JSON.stringify(rawValue)} is not a finite number${rawValue.trim() ? '' : ' (empty)'}`,
        );
      }
      const start = o.intervalEnd ? at - stepMs : at;
      out.columns.push(meter, units.channel, start, seconds, scale(v), energy, quality, line);
    } catch (e) {
      if (!(e instanceof TripletError)) throw e;
      out.reject(line, e.code, e.message, meter);
    }
  }
}

/** A triplet's explicit date-time in the configured zone. */
function tripletTime(raw: string, prev: number | undefined, o: Resolved): number {
  const local = parseCompactTimestamp(raw);
  if (local === undefined) {
    throw new TripletError(
      ErrorCode.BAD_TIMESTAMP,
      `date-time ${JSON.stringify(raw)} is not CCYYMMDDHHMM`,
    );
  }
  const r = o.resolver.resolve(local);
  switch (r.kind) {
    case 'unique':
      return r.ms;
    case 'nonexistent':
      throw new TripletError(
        ErrorCode.NONEXISTENT_LOCAL_TIME,
        `local time ${raw} does not exist in ${o.timeZone} (the clocks skip it when daylight saving time starts)`,
      );
    case 'ambiguous':
      if (o.ambiguousTime === 'earlier') return r.earlier;
      if (o.ambiguousTime === 'later') return r.later;
      if (o.ambiguousTime === 'order' && prev !== undefined) {
        if (r.earlier > prev) return r.earlier;
        if (r.later > prev) return r.later;
      }
      throw new TripletError(
        ErrorCode.AMBIGUOUS_LOCAL_TIME,
        `local time ${raw} happens twice in ${o.timeZone} (daylight saving time ends); use local standard time (a fixed offset) or the ambiguousTime option`,
      );
    default: {
      const never: never = r;
      throw new Error(`unexpected resolution ${String(never)}`);
    }
  }
}
