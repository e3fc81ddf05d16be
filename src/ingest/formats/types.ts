/**
 * The contract every head-end format parser keeps: a byte stream in, chunks of ReadingInput
 * out, with the file position of each item and the row-level rejections. Structural problems
 * throw MeterdataError (MALFORMED_FILE or MISSING_COLUMN) with `details.line` / `byteOffset`.
 */
import { ErrorCode, MeterdataError } from '../../errors';
import type { ReadingInput, Rejection } from '../../domain/readings';
import { type CmepOptions, parseCmep } from './cmep';
import { csvParser } from './csv';
import type { CsvProfile, ResolvedCsvProfile } from './csv-profile';
import { parseEspi } from './espi';

export interface ParsedChunk {
  items: ReadingInput[];
  /** line number (CSV, CMEP) or IntervalReading ordinal (ESPI XML) of each item */
  positions: number[];
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
