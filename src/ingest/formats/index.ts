/** Head-end file formats for the write path: CSV through a mapping profile, CMEP and ESPI. */
export {
  type FormatName,
  type FormatParser,
  type ParsedChunk,
  type ParseOptions,
  FORMAT_NAMES,
  parserFor,
  type RecordKey,
  type StructureCheck,
  type StructureCheckOptions,
  structureCheckFor,
} from './types';
export {
  type ChannelName,
  type ColumnRef,
  type CsvColumns,
  type CsvProfile,
  type ResolvedCsvProfile,
  BUILTIN_PROFILES,
  DEFAULT_CSV_PROFILE,
  loadCsvProfile,
  parseCsvProfile,
  validateCsvProfile,
} from './csv-profile';
export { csvParser, parseCsv } from './csv';
export { type CmepOptions, type CmepUnit, parseCmep } from './cmep';
export { parseEspi } from './espi';
export { DEFAULT_CHUNK_SIZE, DEFAULT_MAX_RECORD_BYTES } from './common';
export { decodeUtf8, stripBom, type TextPiece } from './utf8';
