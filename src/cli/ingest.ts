/**
 * `meterdata ingest <file>`: a readings CSV into one batch. The whole file is checked first
 * (encoding, header, record sizes, quoting) so a structurally broken file writes nothing;
 * row-level problems reject only their rows and are listed with line numbers.
 */
import path from 'node:path';
import { SingleBar } from 'cli-progress';
import { type Command } from 'commander';
import { type Rejection } from '../domain/readings';
import { checkReadingsCsv, type CsvCheck, readReadingsCsv } from '../ingest/csv';
import { ingestChunks, type StreamIngestResult } from '../ingest/rows';
import { type CliIo, fmtInt, fmtRate, requireFile, withRuntime, writeLine } from './io';

/** Rejections listed on stderr. */
const SHOWN_REJECTIONS = 20;

export interface IngestFileReport extends StreamIngestResult {
  file: string;
  bytes: number;
  seconds: number;
  readingsPerSecond: number;
}

export async function runIngestFile(
  io: CliIo,
  file: string,
  opts: { json?: boolean; chunkRows?: number },
): Promise<IngestFileReport> {
  const size = requireFile(file);
  return withRuntime(io, async (rt) => {
    // Timed from here: opening the database is not ingest work.
    const started = process.hrtime.bigint();
    const bar = io.stderr.isTTY
      ? new SingleBar({
          stream: io.stderr,
          format: '{phase} |{bar}| {percentage}% | {rows} rows | ETA {eta}s',
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 20,
        })
      : null;
    bar?.start(Math.max(size, 1), 0, { phase: 'check ', rows: 0 });
    // Pass 1: nothing is written unless the whole file is structurally sound.
    let check: CsvCheck;
    try {
      check = await checkReadingsCsv(file, { onProgress: (bytes) => bar?.update(bytes) });
    } catch (err) {
      bar?.stop();
      throw err;
    }
    bar?.update(0, { phase: 'ingest' });
    let result: StreamIngestResult;
    try {
      result = await ingestChunks(
        rt.db.pool,
        readReadingsCsv(file, check, { chunkRows: opts.chunkRows }),
        {
          source: path.resolve(file),
          format: 'csv',
          clockToleranceSeconds: rt.config.clockToleranceSeconds,
          maxRejections: SHOWN_REJECTIONS,
          onProgress: (p) =>
            bar?.update(p.bytesRead ?? 0, {
              rows: fmtInt(p.accepted + p.unchanged + p.changed + p.rejected),
            }),
        },
      );
    } finally {
      bar?.stop();
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const total = result.accepted + result.unchanged + result.changed + result.rejected;
    const report: IngestFileReport = {
      ...result,
      file,
      bytes: check.bytes,
      seconds,
      readingsPerSecond: total / Math.max(seconds, 1e-3),
    };
    rt.logger.info(
      { batchId: result.batchId, file, accepted: result.accepted, rejected: result.rejected },
      'file ingested',
    );
    printRejections(io, result.rejections, result.rejected);
    if (opts.json) {
      writeLine(
        io.stdout,
        JSON.stringify({
          file,
          batchId: result.batchId,
          accepted: result.accepted,
          unchanged: result.unchanged,
          changed: result.changed,
          rejected: result.rejected,
          seconds: Math.round(seconds * 1000) / 1000,
          readingsPerSecond: Math.round(report.readingsPerSecond),
          rejections: result.rejections.map((r) => ({
            line: r.index,
            code: r.code,
            message: r.message,
          })),
        }),
      );
    } else {
      writeLine(io.stdout, formatIngestSummary(report));
    }
    return report;
  });
}

export function formatIngestSummary(r: IngestFileReport): string {
  return (
    `ingested ${path.basename(r.file)}: ${fmtInt(r.accepted)} accepted, ${fmtInt(r.unchanged)} unchanged, ` +
    `${fmtInt(r.changed)} changed, ${fmtInt(r.rejected)} rejected (batch ${r.batchId}) ` +
    `in ${r.seconds.toFixed(1)} s, ${fmtRate(r.readingsPerSecond)} readings/s`
  );
}

function printRejections(io: CliIo, shown: readonly Rejection[], total: number): void {
  for (const r of shown.slice(0, SHOWN_REJECTIONS)) {
    writeLine(io.stderr, `line ${r.index}: ${r.code}: ${r.message}`);
  }
  const more = total - Math.min(shown.length, SHOWN_REJECTIONS);
  if (more > 0) {
    writeLine(io.stderr, `… and ${fmtInt(more)} more rejected row${more === 1 ? '' : 's'}`);
  }
}

export function registerIngest(program: Command, io: CliIo): void {
  program
    .command('ingest')
    .description(
      'ingest a readings CSV (header meter_serial,channel,interval_start,interval_seconds,value,unit; see docs/formats.md)',
    )
    .argument('<file>', 'CSV file')
    .option('--json', 'print the counts as one JSON line instead of the summary')
    .action(async (file: string, o: { json?: boolean }) => {
      await runIngestFile(io, file, { json: o.json });
    });
}
