/**
 * `meterdata ingest <file>`: a head-end file through the same landing as POST /ingest/files
 * (bytes, hash and parsed chunks in one transaction, then queued). With `--wait` an in-process
 * worker follows the file to its end and the counts are printed; without it, `serve` and
 * `worker` process it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SingleBar } from 'cli-progress';
import { Option, type Command } from 'commander';
import { COMM_PATHS, type CommPath } from '../domain/topology';
import { ErrorCode, MeterdataError } from '../errors';
import {
  BUILTIN_PROFILES,
  DEFAULT_CSV_PROFILE,
  type FormatName,
  loadCsvProfile,
  type ResolvedCsvProfile,
} from '../ingest/formats';
import { checkFormat, receiveFile, type ReceiveResult } from '../ingest/landing';
import { resolveProfile } from '../ingest/profiles';
import { configuredWorkerOptions, IngestWorker, type WorkerOptions } from '../ingest/worker';
import { type Runtime } from '../runtime';
import { fileRejections, filesByIds, type FileRecord } from '../storage/landing';
import { threadEnv, threadPerCore, WorkerThreads } from '../ingest/threads';
import {
  type CliIo,
  fmtInt,
  fmtRate,
  positiveInt,
  requireFile,
  withRuntime,
  writeLine,
} from './io';

/** Rejections listed on stderr and in the JSON line. */
const SHOWN_REJECTIONS = 20;

export interface IngestCliOptions {
  format: string;
  profile?: string;
  meter?: string;
  source: string;
  sourceSystem?: string;
  commPath?: CommPath;
  wait?: boolean;
  /** chunks in flight in the `--wait` worker; default 2 on PostgreSQL, 1 embedded */
  concurrency?: number;
  /** with --wait: worker threads (default one per core on PostgreSQL, 1 embedded) */
  threads?: number;
  json?: boolean;
}

export interface IngestFileReport {
  file: string;
  fileId: number;
  status: 'done';
  duplicate: boolean;
  accepted: number;
  unchanged: number;
  changed: number;
  rejected: number;
  seconds: number;
  readingsPerSecond: number;
  rejections: Array<{ line: number; code: string; message: string }>;
}

type Bar = SingleBar | null;

function progressBar(io: CliIo): Bar {
  return io.stderr.isTTY
    ? new SingleBar({
        stream: io.stderr,
        format: '{phase} |{bar}| {percentage}% | {detail} | ETA {eta}s',
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 20,
      })
    : null;
}

const fmtMb = (bytes: number) => (bytes / 1e6).toFixed(1);

/** The file's bytes as they are read, reporting how many so far. */
async function* counted(
  src: AsyncIterable<Buffer>,
  onBytes: (n: number) => void,
): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const b of src) {
    n += b.length;
    onBytes(n);
    yield b;
  }
}

/**
 * A built-in profile or a JSON file is loaded before the database is opened (so a typo fails
 * fast); any other name is looked up among the profiles saved in the database, later.
 */
async function profileBeforeOpening(nameOrPath: string): Promise<ResolvedCsvProfile | undefined> {
  const looksLikePath = /[\\/]/.test(nameOrPath) || nameOrPath.toLowerCase().endsWith('.json');
  if (BUILTIN_PROFILES[nameOrPath] || looksLikePath || fs.existsSync(nameOrPath)) {
    return loadCsvProfile(nameOrPath);
  }
  return undefined;
}

/**
 * `--meter` mistakes fail before landing. The parser would find them too, but then the file
 * would be registered as failed, and the corrected command would be a duplicate of it.
 */
function checkMeterOption(
  format: FormatName,
  profile: ResolvedCsvProfile | undefined,
  meter: string | undefined,
): void {
  if (format === 'cmep' && meter !== undefined) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      '--meter does not apply to CMEP files: every record names its meter',
    );
  }
  if (format !== 'csv') return;
  const p = profile ?? DEFAULT_CSV_PROFILE;
  const mapsMeter = p.columns.meter !== undefined || p.meterColumns !== undefined;
  if (mapsMeter && meter !== undefined) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `profile ${p.name} reads the meter from the file; --meter is only for profiles without a meter column`,
    );
  }
  if (!mapsMeter && meter === undefined) {
    throw new MeterdataError(
      ErrorCode.MISSING_COLUMN,
      `profile ${p.name} maps no meter column: pass the meter serial (--meter <serial>)`,
    );
  }
}

/** A failure recorded on a file row, as the error the CLI exits with. */
function fileError(code: string | null | undefined, message: string): MeterdataError {
  const known = (Object.values(ErrorCode) as string[]).includes(code ?? '');
  return known
    ? new MeterdataError(code as ErrorCode, message)
    : new MeterdataError(ErrorCode.INTERNAL, `${code ?? 'failed'}: ${message}`, {
        details: { fileCode: code },
      });
}

/** The options of the `--wait` worker and of its extra threads. */
function waitWorkerOptions(rt: Runtime, concurrency: number): WorkerOptions {
  return {
    ...configuredWorkerOptions(rt.config),
    name: `cli:${process.pid}`,
    concurrency,
    blockMs: 200,
  };
}

/**
 * Runs an in-process worker until the file is done or failed. It takes whatever the queue
 * hands it (other files' chunks too), and other workers may take this file's: both are fine.
 */
async function followFile(
  rt: Runtime,
  fileId: number,
  options: WorkerOptions,
  bar: Bar,
): Promise<FileRecord> {
  const [first] = await filesByIds(rt.db.pool, [fileId]);
  if (!first) throw new Error(`file ${fileId} vanished`);
  let file: FileRecord = first;
  const ended = (f: FileRecord) => f.status === 'done' || f.status === 'failed';
  if (ended(file)) return file;
  const total = file.chunksTotal ?? 0;
  bar?.start(Math.max(total, 1), file.chunksDone, {
    phase: 'ingest',
    detail: `${fmtInt(file.chunksDone)}/${fmtInt(total)} chunks`,
  });
  const worker = new IngestWorker(rt.db.pool, rt.queue, rt.logger, options);
  // The concurrent loops share one look-up at a time.
  let looking: Promise<boolean> | null = null;
  const until = (): Promise<boolean> =>
    (looking ??= (async () => {
      const [f] = await filesByIds(rt.db.pool, [fileId]);
      if (f) file = f;
      bar?.update(file.chunksDone, {
        detail: `${fmtInt(file.chunksDone)}/${fmtInt(total)} chunks`,
      });
      return ended(file);
    })().finally(() => (looking = null)));
  try {
    await worker.run(until);
  } finally {
    bar?.stop();
  }
  return file;
}

export async function runIngestFile(
  io: CliIo,
  file: string,
  opts: IngestCliOptions,
): Promise<void> {
  const size = requireFile(file);
  const format = checkFormat(opts.format);
  const early = opts.profile === undefined ? undefined : await profileBeforeOpening(opts.profile);
  const name = path.basename(file);
  await withRuntime(io, async (rt) => {
    const profile = early ?? (await resolveProfile(rt.db.pool, opts.profile));
    checkMeterOption(format, profile, opts.meter);
    // With --wait, the worker's extra threads start before the landing: loading their modules
    // and connecting overlaps it, and they take the file's chunks as soon as it is queued (and
    // other files' chunks, as any worker would). They stop when the command ends.
    const concurrency = opts.concurrency ?? (rt.db.embedded ? 1 : 2);
    const threads = rt.db.embedded ? 1 : (opts.threads ?? threadPerCore());
    const options = waitWorkerOptions(rt, concurrency);
    const helpers = new WorkerThreads(
      opts.wait ? threads - 1 : 0,
      threadEnv({}, rt.config),
      options,
      rt.logger,
    );
    try {
      // Timed from here: opening the database is not ingest work.
      const started = process.hrtime.bigint();
      const bar = progressBar(io);
      bar?.start(Math.max(size, 1), 0, { phase: 'land  ', detail: `0.0/${fmtMb(size)} MB` });
      const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
      let landed: ReceiveResult;
      try {
        landed = await receiveFile(
          rt.db.pool,
          counted(stream, (n) => bar?.update(n, { detail: `${fmtMb(n)}/${fmtMb(size)} MB` })),
          {
            source: opts.source,
            sourceSystem: opts.sourceSystem ?? null,
            commPath: opts.commPath ?? null,
            format,
            profile: profile ?? null,
            meter: opts.meter ?? null,
            fileName: name,
          },
          {
            maxBytes: rt.config.maxFileBytes,
            chunkSize: rt.config.ingestChunkSize,
            keepRejections: rt.config.keepRejections,
            queue: rt.queue,
          },
        );
      } finally {
        bar?.stop();
        stream.destroy();
      }
      const log = rt.logger.child({ fileId: landed.fileId, file });
      if (landed.status === 'failed') {
        // The file stays registered as failed (operators see it in ingestFiles); nothing of it
        // was staged or stored.
        log.info({ code: landed.errorCode, duplicate: landed.duplicate }, 'file failed');
        throw fileError(
          landed.errorCode,
          landed.duplicate
            ? `${name} was already received as file ${landed.fileId} and failed: ${landed.errorMessage ?? 'no reason recorded'}`
            : (landed.errorMessage ?? 'the file could not be read'),
        );
      }
      const duplicateLine = `${name} was already received as file ${landed.fileId}`;

      if (!opts.wait) {
        log.info({ chunks: landed.chunks, duplicate: landed.duplicate }, 'file landed');
        if (opts.json) {
          writeLine(
            io.stdout,
            JSON.stringify({
              fileId: landed.fileId,
              status: landed.status,
              duplicate: landed.duplicate,
              items: landed.items,
              chunks: landed.chunks,
              parseRejected: landed.parseRejected,
            }),
          );
        } else if (landed.duplicate) {
          writeLine(io.stdout, `${duplicateLine} (status ${landed.status}): nothing changed`);
        } else {
          writeLine(
            io.stdout,
            (landed.items === null
              ? `landed ${name} as file ${landed.fileId}: structure checked, ${plural(landed.chunks, 'chunk')} to parse; `
              : `landed ${name} as file ${landed.fileId}: ${plural(landed.items, 'reading')} in ` +
                `${plural(landed.chunks, 'chunk')}, ${fmtInt(landed.parseRejected)} rejected while parsing; `) +
              (landed.chunks ? 'queued for the workers' : 'nothing to process'),
          );
        }
        return;
      }

      const f = await followFile(rt, landed.fileId, options, bar);
      if (f.status === 'failed') {
        log.warn({ code: f.errorCode }, 'file failed while processing');
        throw fileError(
          f.errorCode,
          `file ${f.id} (${name}) failed: ${f.errorMessage ?? 'no reason recorded'}`,
        );
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const total = f.accepted + f.unchanged + f.changed + f.rejected;
      const shown = await fileRejections(rt.db.pool, f.id, SHOWN_REJECTIONS);
      const report: IngestFileReport = {
        file,
        fileId: f.id,
        status: 'done',
        duplicate: landed.duplicate,
        accepted: f.accepted,
        unchanged: f.unchanged,
        changed: f.changed,
        rejected: f.rejected,
        seconds,
        // A duplicate wrote nothing: no rate to speak of.
        readingsPerSecond: landed.duplicate ? 0 : total / Math.max(seconds, 1e-3),
        rejections: shown.map((r) => ({ line: r.position, code: r.code, message: r.message })),
      };
      log.info(
        { accepted: f.accepted, rejected: f.rejected, duplicate: landed.duplicate },
        'file ingested',
      );
      if (!landed.duplicate) printRejections(io, format, report.rejections, f.rejected);
      if (opts.json) {
        writeLine(
          io.stdout,
          JSON.stringify({
            ...report,
            seconds: Math.round(seconds * 1000) / 1000,
            readingsPerSecond: Math.round(report.readingsPerSecond),
          }),
        );
      } else if (landed.duplicate) {
        writeLine(
          io.stdout,
          `${duplicateLine} (status ${f.status}): nothing changed; its counts: ${fmtCounts(f)}`,
        );
      } else {
        writeLine(io.stdout, formatIngestSummary(report));
      }
    } finally {
      await helpers.stop();
    }
  });
}

function plural(n: number, word: string): string {
  return `${fmtInt(n)} ${word}${n === 1 ? '' : 's'}`;
}

function fmtCounts(r: { accepted: number; unchanged: number; changed: number; rejected: number }) {
  return (
    `${fmtInt(r.accepted)} accepted, ${fmtInt(r.unchanged)} unchanged, ` +
    `${fmtInt(r.changed)} changed, ${fmtInt(r.rejected)} rejected`
  );
}

export function formatIngestSummary(r: IngestFileReport): string {
  return (
    `ingested ${path.basename(r.file)}: ${fmtCounts(r)} (file ${r.fileId}) ` +
    `in ${r.seconds.toFixed(1)} s, ${fmtRate(r.readingsPerSecond)} readings/s`
  );
}

function printRejections(
  io: CliIo,
  format: string,
  shown: IngestFileReport['rejections'],
  total: number,
): void {
  // ESPI positions are IntervalReading ordinals, not lines.
  const where = format === 'espi' ? 'reading' : 'line';
  for (const r of shown) writeLine(io.stderr, `${where} ${r.line}: ${r.code}: ${r.message}`);
  const more = total - shown.length;
  if (more > 0) {
    writeLine(io.stderr, `… and ${fmtInt(more)} more rejected row${more === 1 ? '' : 's'}`);
  }
}

export function registerIngest(program: Command, io: CliIo): void {
  program
    .command('ingest')
    .description(
      'land a head-end file (csv, cmep or espi) as POST /ingest/files does, and queue it for the ' +
        'workers; with --wait, process it here and print the counts',
    )
    .argument('<file>', 'the file to ingest')
    .option('--format <format>', 'csv, cmep or espi', 'csv')
    .option(
      '--profile <name|file>',
      'CSV mapping profile: a built-in name, a JSON file, or a profile saved in the database',
    )
    .option('--meter <serial>', 'meter serial for files that do not name one (ESPI, some CSV)')
    .option('--source <name>', 'where the file comes from (recorded with it)', 'cli')
    .option('--source-system <name>', 'the head-end system that produced it')
    .addOption(
      new Option('--comm-path <path>', 'the communication path it came over').choices(COMM_PATHS),
    )
    .option('--wait', 'process the file here and wait for its end, then print the counts')
    .option(
      '--concurrency <n>',
      'with --wait: chunks in flight at once (default 2 with DATABASE_URL, 1 embedded)',
      positiveInt,
    )
    .option(
      '--threads <n>',
      'with --wait: worker threads (default one per core with DATABASE_URL, 1 embedded)',
      positiveInt,
    )
    .option('--json', 'print the result as one JSON line')
    .addHelpText(
      'after',
      '\nWithout --wait the file is landed and queued: `meterdata serve` (unless --no-worker) and\n' +
        '`meterdata worker` process queued files. Sending the same content again is a duplicate\n' +
        'and changes nothing. Formats and CSV profiles: docs/formats-headend.md.\n',
    )
    .action(async (file: string, o: IngestCliOptions) => {
      await runIngestFile(io, file, o);
    });
}
