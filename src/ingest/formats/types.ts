/**
 * The contract every head-end format parser keeps: a byte stream in, chunks of ReadingInput
 * out, with the file position of each item and the row-level rejections. Structural problems
 * throw MeterdataError (MALFORMED_FILE or MISSING_COLUMN) with `details.line` / `byteOffset`.
 */
import { ErrorCode, MeterdataError } from '../../errors';
import type { ReadingInput, Rejection } from '../../domain/readings';
import type { ReadingColumns } from '../../domain/reading-columns';
import { type CmepOptions, checkCmepStructure, parseCmep } from './cmep';
import { checkCsvStructure, csvParser } from './csv';
import {
  type CsvProfile,
  DEFAULT_CSV_PROFILE,
  type ResolvedCsvProfile,
  resolveCsvProfile,
} from './csv-profile';
import { parseEspi } from './espi';

export interface ParsedChunk {
  /** the readings, column-wise; `position` is each one's line number or record ordinal */
  readings: ReadingColumns;
  /** the same readings as objects (built on first use) */
  readonly items: ReadingInput[];
  /** line number (CSV, CMEP) or IntervalReading ordinal (ESPI XML) of each item */
  readonly positions: number[];
  /** row-level format errors; `index` is the line number or record ordinal */
  rejections: Rejection[];
  /** input bytes consumed so far */
  bytesRead: number;
}

export interface ParseOptions {
  /** items per chunk, default 20 000 */
  chunkSize?: number;
  /** longest record (a CSV/CMEP line, an XML token), default 1 MiB */
  maxRecordBytes?: number;
  /** explicit meter serial (ESPI, or a CSV profile without a meter column): `--meter` */
  meter?: string;
  /** CMEP conventions (time zone, interval end or start, units, quality codes) */
  cmep?: CmepOptions;
}

export type FormatName = 'csv' | 'cmep' | 'espi';

export const FORMAT_NAMES: readonly FormatName[] = ['csv', 'cmep', 'espi'];

export type FormatParser = (
  input: AsyncIterable<Buffer>,
  opts?: ParseOptions,
) => AsyncGenerator<ParsedChunk>;

/**
 * The parser for a format. For CSV the profile is validated here, before any input is read;
 * without one the built-in `meterdata` profile (the documented default layout) is used.
 */
export function parserFor(
  format: FormatName,
  profile?: CsvProfile | ResolvedCsvProfile,
): FormatParser {
  if (profile !== undefined && format !== 'csv') {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `a CSV profile does not apply to ${format} files`,
    );
  }
  switch (format) {
    case 'csv':
      return csvParser(profile);
    case 'cmep':
      return parseCmep;
    case 'espi':
      return parseEspi;
    default: {
      const never: never = format;
      throw new Error(`unknown format ${String(never)}`);
    }
  }
}

/**
 * The meter a line-format record belongs to, read from the record's line alone (without its
 * line end); null when the line does not say. The landing ends a part where the meter changes
 * (see landing.ts), so that neighbouring chunks rarely hold the same meter's days.
 */
export type RecordKey = (line: string) => string | null;

export interface StructureCheckOptions extends ParseOptions {
  /** receives the file's RecordKey once the check knows its layout (after a CSV header) */
  onRecordKey?: (key: RecordKey) => void;
}

/** The structural check of a line format: yields per piece, returns the preamble's lines. */
export type StructureCheck = (
  input: AsyncIterable<Buffer>,
  opts?: StructureCheckOptions,
) => AsyncGenerator<void, number>;

/**
 * For formats whose records are independent lines (CSV, CMEP), the landing checks only the
 * structure and stores the bytes in line-aligned parts that workers parse, each on its own.
 * null where a part cannot be parsed alone: ESPI (a reading's meaning is set by elements
 * before it; the landing records where its readings are instead, see espi-segments.ts) and
 * the `order` rule for ambiguous local times (it depends on the rows before).
 */
export function structureCheckFor(
  format: FormatName,
  profile?: CsvProfile | ResolvedCsvProfile,
  cmep?: CmepOptions,
): StructureCheck | null {
  switch (format) {
    case 'csv': {
      const resolved = resolveCsvProfile(profile ?? DEFAULT_CSV_PROFILE);
      if (resolved.ambiguousTime === 'order') return null;
      return (input, opts) => checkCsvStructure(input, resolved, opts);
    }
    case 'cmep':
      if (cmep?.ambiguousTime === 'order') return null;
      return (input, opts) => checkCmepStructure(input, opts);
    default:
      return null;
  }
}
