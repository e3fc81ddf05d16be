/**
 * Head-end ingestion: simulated CSV, CMEP and ESPI files through landing → Redis queue →
 * `meterdata worker` processes → store, each on a fresh database, with one and with two worker
 * processes (of the CLI's default shape, and of one thread each); and the peak RSS of one
 * worker (and of the landing process) on a file of ≥ 1 GiB.
 * See docs/benchmark.md, "Head-end ingestion".
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { sql, type ConnectionPool } from '@databases/pg';
import { parserFor } from '../src/ingest/formats';
import { type BenchOptions } from './args';
import { BENCH_AUTH } from './auth';
import { run, runOk, startService, type Service } from './children';
import { writeFleet, writeLargeCsv, type Fleet, type FleetFiles } from './data';
import { waitForGraphql } from './load';
import { createDatabase, dropDatabase, pool, walLsn, walSince, type Cluster } from './postgres';
import { clusterCpuSeconds, cpuSeconds, peakRssBytes } from './procstat';
import { type RedisServer } from './redis';
import {
  type HeadendFormat,
  type HeadendRss,
  type HeadendRun,
  type HeadendShape,
  type SelfCheck,
} from './report';
import { freePort, log, ms, round, sleep } from './util';

export const RSS_TARGET_BYTES = 300e6;
/** the peak-RSS figure counts against its target only for a file at least this large */
export const RSS_MIN_FILE_BYTES = 1e9;

export interface HeadendEnv {
  opts: BenchOptions;
  root: string;
  tmp: string;
  logs: string;
  cluster: Cluster;
  redis: RedisServer;
  /** where --cpu-prof profiles go */
  profileDir: string | null;
}

export interface CliCapabilities {
  /** `meterdata ingest --format` lands files (without --wait) */
  ingestLands: boolean;
  /** `meterdata ingest --wait` processes what it landed */
  ingestWaits: boolean;
  worker: boolean;
  serveNoWorker: boolean;
}

const bin = (root: string) => path.join(root, 'bin', 'meterdata.js');

export async function cliCapabilities(root: string): Promise<CliCapabilities> {
  const help = async (cmd: string) => {
    const r = await run(process.execPath, [bin(root), cmd, '--help']);
    return r.code === 0 ? r.stdout : '';
  };
  const [ingest, worker, serve] = await Promise.all([
    help('ingest'),
    help('worker'),
    help('serve'),
  ]);
  return {
    ingestLands: ingest.includes('--format'),
    ingestWaits: ingest.includes('--wait'),
    worker: /Usage: meterdata worker/.test(worker),
    serveNoWorker: serve.includes('--no-worker'),
  };
}

function env(
  databaseUrl: string,
  redisUrl: string,
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'warn',
    ...BENCH_AUTH.env,
    ...extra,
  };
  delete e.NODE_ENV;
  return e;
}

function nodeFlags(h: HeadendEnv, tag: string): string[] {
  return h.profileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${h.profileDir}`, `--cpu-prof-name=${tag}.cpuprofile`]
    : [];
}

// ---------------------------------------------------------------------------------------------
// Self-check: a tiny fleet written by the same writers parses, with the real parsers, to the
// same readings in every format (before minutes are spent on the big files).

export async function selfCheckFormats(
  dir: string,
  opts: { seed: number; start: string },
): Promise<SelfCheck> {
  const fleet = await writeFleet(dir, { meters: 40, days: 2, ...opts }, { cmep: true, espi: true });
  const files: Record<HeadendFormat, string> = {
    csv: fleet.csvFile,
    cmep: fleet.files.cmep!.file,
    espi: fleet.files.espi!.file,
  };
  const sums: Record<
    string,
    { items: number; rejected: number; t: number; kwh: number; meters: number }
  > = {};
  for (const format of Object.keys(files) as HeadendFormat[]) {
    const parse = parserFor(format);
    let items = 0;
    let rejected = 0;
    let t = 0;
    let kwh = 0;
    const meters = new Set<string>();
    for await (const c of parse(fs.createReadStream(files[format], { highWaterMark: 1 << 16 }))) {
      rejected += c.rejections.length;
      for (const it of c.items) {
        // CMEP carries the delivered channel only: compare like with like.
        if (it.channel !== 'delivered') continue;
        if (it.intervalSeconds !== fleet.intervalSeconds) {
          throw new Error(`${format}: an item of ${it.intervalSeconds} s`);
        }
        items++;
        meters.add(it.meterSerial);
        t += (Number(it.intervalStart) - fleet.startMs) / 1000;
        kwh += it.unit === 'Wh' ? Number(it.value) / 1000 : Number(it.value);
      }
    }
    sums[format] = { items, rejected, t, kwh: round(kwh, 4), meters: meters.size };
  }
  const want = sums.csv!;
  for (const format of ['cmep', 'espi'] as const) {
    const got = sums[format]!;
    if (
      got.rejected ||
      got.items !== want.items ||
      got.t !== want.t ||
      got.meters !== want.meters ||
      Math.abs(got.kwh - want.kwh) > 1e-3
    ) {
      throw new Error(
        `the ${format} writer and parser disagree with the CSV: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`,
      );
    }
  }
  const all = (f: FleetFiles[keyof FleetFiles]) => f!.readings;
  const check: SelfCheck = {
    meters: fleet.meters,
    days: fleet.days,
    deliveredReadings: want.items,
    readings: { csv: fleet.readings, cmep: all(fleet.files.cmep), espi: all(fleet.files.espi) },
    ok: true,
  };
  fs.rmSync(dir, { recursive: true, force: true });
  return check;
}

// ---------------------------------------------------------------------------------------------
// Landing

interface Landed {
  fileId: number;
  chunks: number | null;
  wallMs: number;
  /** the landing process: its peak RSS and CPU seconds */
  peakRssBytes: number | null;
  cpuSeconds: number | null;
  process: string;
}

/** `meterdata ingest <file> --format F --json` (no --wait): lands and queues, then exits. */
async function landCli(
  h: HeadendEnv,
  dbUrl: string,
  file: string,
  format: HeadendFormat,
  tag: string,
): Promise<Landed> {
  const probe = path.join(h.tmp, `probe-${tag}.jsonl`);
  fs.rmSync(probe, { force: true });
  const args = [
    ...nodeFlags(h, `land-${tag}`),
    '-r',
    path.join(__dirname, 'rss-probe.js'),
    bin(h.root),
    'ingest',
    file,
    '--format',
    format,
    '--source',
    'bench',
    '--json',
  ];
  const r = await runOk(process.execPath, args, {
    cwd: h.tmp,
    env: env(dbUrl, h.redis.url, { MD_BENCH_PROBE_FILE: probe }),
  });
  fs.writeFileSync(path.join(h.logs, `land-${tag}.log`), r.stdout + r.stderr);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let out: { fileId?: unknown; status?: unknown; chunks?: unknown; duplicate?: unknown };
  try {
    out = JSON.parse(line);
  } catch {
    throw new Error(
      `ingest --json did not end with a JSON line: ${JSON.stringify(line.slice(0, 300))}`,
    );
  }
  if (out.duplicate) throw new Error(`the landing says the file is a duplicate (fresh database?)`);
  if (out.status === 'failed') throw new Error(`the landing failed the file: ${line}`);
  let probed: { maxRssBytes?: number; cpuSeconds?: number } = {};
  try {
    probed = JSON.parse(fs.readFileSync(probe, 'utf8').trim().split('\n').pop()!);
  } catch {
    log('  (no RSS probe output from the landing CLI)');
  }
  return {
    fileId: Number(out.fileId),
    chunks: out.chunks === undefined ? null : Number(out.chunks),
    wallMs: r.ms,
    peakRssBytes: probed.maxRssBytes ?? null,
    cpuSeconds: probed.cpuSeconds ?? null,
    process: 'meterdata ingest',
  };
}

/** Streams the file to POST /ingest/files; resolves with the status and the parsed body. */
function postFile(
  port: number,
  file: string,
  query: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const size = fs.statSync(file).size;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: `/ingest/files?${new URLSearchParams(query).toString()}`,
        method: 'POST',
        headers: {
          ...BENCH_AUTH.headers,
          'content-type': 'application/octet-stream',
          'content-length': size,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          } catch {
            reject(
              new Error(`POST /ingest/files answered ${res.statusCode}: ${text.slice(0, 300)}`),
            );
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    fs.createReadStream(file, { highWaterMark: 1 << 20 })
      .on('error', (err) => req.destroy(err))
      .pipe(req);
  });
}

/** `meterdata serve [--no-worker]` on the database; only the landing is timed (the upload). */
async function landHttp(
  h: HeadendEnv,
  caps: CliCapabilities,
  dbUrl: string,
  file: string,
  format: HeadendFormat,
  tag: string,
): Promise<Landed> {
  const port = await freePort();
  const logFile = path.join(h.logs, `serve-${tag}.log`);
  const svc = startService(
    'meterdata serve (landing)',
    process.execPath,
    [
      ...nodeFlags(h, `serve-${tag}`),
      bin(h.root),
      'serve',
      '--port',
      String(port),
      ...(caps.serveNoWorker ? ['--no-worker'] : []),
    ],
    { cwd: h.tmp, env: env(dbUrl, h.redis.url), logFile },
  );
  try {
    await waitForGraphql(
      { port, path: '/graphql', headers: BENCH_AUTH.headers },
      { timeoutMs: 60_000, exited: svc.exited, name: svc.name, logFile },
    );
    const cpu0 = cpuSeconds(svc.child.pid);
    const t = process.hrtime.bigint();
    const r = await postFile(port, file, {
      format,
      source: 'bench',
      fileName: path.basename(file),
    });
    const wallMs = ms(t);
    if (r.status !== 202) {
      throw new Error(
        `POST /ingest/files answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`,
      );
    }
    const cpu1 = cpuSeconds(svc.child.pid);
    return {
      fileId: Number(r.body.fileId),
      chunks: r.body.chunks === undefined ? null : Number(r.body.chunks),
      wallMs,
      peakRssBytes: peakRssBytes(svc.child.pid),
      cpuSeconds: cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null,
      process: caps.serveNoWorker ? 'meterdata serve --no-worker' : 'meterdata serve',
    };
  } finally {
    await svc.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// One run: fresh database, land, N workers until the file is done, exact counts.

interface FileRow {
  status: string;
  items_total: number | null;
  chunks_total: number | null;
  accepted: number;
  unchanged: number;
  changed: number;
  rejected: number;
  parse_rejected: number;
  error_code: string | null;
  error_message: string | null;
}

async function fileRow(db: ConnectionPool, fileId: number): Promise<FileRow> {
  const [f] = await db.query(sql`
    SELECT status, items_total, chunks_total, accepted, unchanged, changed, rejected, parse_rejected,
           error_code, error_message
    FROM ingest_file WHERE id = ${fileId}`);
  if (!f) throw new Error(`ingest_file ${fileId} not found`);
  return f as FileRow;
}

export interface RunInput {
  format: HeadendFormat;
  file: string;
  readings: number;
  topologyFile: string;
  workers: number;
  /** `single` starts each worker with --parse-threads 0 */
  shape?: HeadendShape;
  landing: 'cli' | 'http';
  /** naive \copy readings/s measured in this run (for the ratio), or null */
  naiveReadingsPerSecond: number | null;
  /** a label for databases, logs and profiles */
  tag: string;
  /** keep polling this long for the file to be done before giving up */
  timeoutMs?: number;
}

export async function headendRun(
  h: HeadendEnv,
  caps: CliCapabilities,
  input: RunInput,
): Promise<HeadendRun> {
  const dbName = `bench_he_${input.tag.replace(/[^a-z0-9_]/gi, '_')}`;
  await createDatabase(h.cluster, dbName);
  const dbUrl = h.cluster.urlFor(dbName);
  const cliEnv = env(dbUrl, h.redis.url);
  const db = pool(dbUrl, 1);
  const workers: Service[] = [];
  try {
    // Untimed preparation: schema and topology, an empty queue, a checkpoint.
    await runOk(process.execPath, [bin(h.root), 'migrate'], { cwd: h.tmp, env: cliEnv });
    await runOk(process.execPath, [bin(h.root), 'topology', 'import', input.topologyFile], {
      cwd: h.tmp,
      env: cliEnv,
    });
    await h.redis.flush();
    await db.query(sql`CHECKPOINT`);
    const pgData = path.join(h.cluster.dir, 'data');
    const fileBytes = fs.statSync(input.file).size;

    // 1. landing (timed)
    const wal0 = await walLsn(db);
    const pg0 = clusterCpuSeconds(pgData);
    log(
      `  landing ${path.basename(input.file)} (${(fileBytes / 2 ** 20).toFixed(0)} MiB) via ${input.landing}`,
    );
    const landed =
      input.landing === 'cli'
        ? await landCli(h, dbUrl, input.file, input.format, input.tag)
        : await landHttp(h, caps, dbUrl, input.file, input.format, input.tag);
    const pg1 = clusterCpuSeconds(pgData);
    const walLanding = await walSince(db, wal0);
    const afterLanding = await fileRow(db, landed.fileId);
    if (afterLanding.status === 'failed') {
      throw new Error(
        `file ${landed.fileId} failed at landing: ${afterLanding.error_code}: ${afterLanding.error_message}`,
      );
    }
    if (afterLanding.status === 'done') {
      throw new Error(
        `file ${landed.fileId} is done without a worker: something else processed it`,
      );
    }

    // 2. N worker processes until the file is done (timed from their start)
    const wal1 = await walLsn(db);
    log(
      `  ${input.workers} worker process${input.workers > 1 ? 'es' : ''} on ${landed.chunks ?? '?'} chunks`,
    );
    const t = process.hrtime.bigint();
    for (let i = 0; i < input.workers; i++) {
      workers.push(
        startService(
          `meterdata worker ${i + 1}`,
          process.execPath,
          [
            ...nodeFlags(h, `worker-${input.tag}-${i + 1}`),
            bin(h.root),
            'worker',
            '--name',
            `bench-${i + 1}`,
            ...(h.opts.workerConcurrency
              ? ['--concurrency', String(h.opts.workerConcurrency)]
              : []),
            ...(input.shape === 'single' ? ['--parse-threads', '0'] : []),
          ],
          {
            cwd: h.tmp,
            env: cliEnv,
            logFile: path.join(h.logs, `worker-${input.tag}-${i + 1}.log`),
            killAfterMs: 60_000,
          },
        ),
      );
    }
    let exited: string | null = null;
    for (const w of workers)
      void w.exited.then((code) => (exited ??= `${w.name} exited with ${code}`));
    let firstProgressMs: number | null = null;
    let status = afterLanding.status;
    const deadline = Date.now() + (input.timeoutMs ?? 3 * 3_600_000);
    let lastLog = Date.now();
    for (;;) {
      const [r] = await db.query(sql`
        SELECT f.status, (SELECT count(*)::int FROM ingest_chunk c WHERE c.file_id = f.id AND c.status <> 'pending') AS done
        FROM ingest_file f WHERE f.id = ${landed.fileId}`);
      status = r.status;
      if (firstProgressMs === null && (status !== 'received' || r.done > 0))
        firstProgressMs = ms(t);
      if (status === 'done' || status === 'failed') break;
      if (exited)
        throw new Error(`${exited} before file ${landed.fileId} was done (status ${status})`);
      if (Date.now() > deadline)
        throw new Error(`file ${landed.fileId} not done after ${input.timeoutMs} ms`);
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        log(`  … ${r.done}/${landed.chunks ?? '?'} chunks done`);
      }
      await sleep(100);
    }
    const processingMs = ms(t);
    const pg2 = clusterCpuSeconds(pgData);
    const walProcessing = await walSince(db, wal1);
    const workerRss = workers.map((w) => peakRssBytes(w.child.pid));
    const workerCpu = workers.map((w) => cpuSeconds(w.child.pid));
    for (const w of workers.splice(0)) await w.stop();

    // 3. exact counts
    const f = await fileRow(db, landed.fileId);
    if (f.status !== 'done')
      throw new Error(`file ${landed.fileId} ${f.status}: ${f.error_code}: ${f.error_message}`);
    const counts = {
      itemsTotal: Number(f.items_total),
      chunks: Number(f.chunks_total),
      accepted: Number(f.accepted),
      unchanged: Number(f.unchanged),
      changed: Number(f.changed),
      rejected: Number(f.rejected),
      parseRejected: Number(f.parse_rejected),
    };
    if (
      counts.accepted !== input.readings ||
      counts.rejected !== 0 ||
      counts.unchanged ||
      counts.changed
    ) {
      throw new Error(
        `file ${landed.fileId}: accepted ${counts.accepted}, rejected ${counts.rejected}, unchanged ${counts.unchanged}, changed ${counts.changed}; expected ${input.readings} accepted and nothing else`,
      );
    }
    const wallMs = landed.wallMs + processingMs;
    const rps = input.readings / (wallMs / 1000);
    const sum = (xs: Array<number | null>) =>
      xs.some((x) => x === null)
        ? null
        : round(
            xs.reduce<number>((a, x) => a + x!, 0),
            2,
          );
    return {
      format: input.format,
      workers: input.workers,
      shape: input.shape ?? 'default',
      landing: input.landing,
      file: path.basename(input.file),
      fileBytes,
      readings: input.readings,
      fileId: landed.fileId,
      landingMs: round(landed.wallMs, 1),
      processingMs: round(processingMs, 1),
      firstProgressMs: firstProgressMs === null ? null : round(firstProgressMs, 1),
      wallMs: round(wallMs, 1),
      readingsPerSecond: Math.round(rps),
      ratio: input.naiveReadingsPerSecond ? round(rps / input.naiveReadingsPerSecond, 3) : null,
      landingReadingsPerSecond: Math.round(input.readings / (landed.wallMs / 1000)),
      processingReadingsPerSecond: Math.round(input.readings / (processingMs / 1000)),
      counts,
      cpuSeconds: {
        landingProcess: landed.cpuSeconds === null ? null : round(landed.cpuSeconds, 2),
        landingPostgres: pg0 !== null && pg1 !== null ? round(pg1 - pg0, 2) : null,
        workers: sum(workerCpu),
        processingPostgres: pg1 !== null && pg2 !== null ? round(pg2 - pg1, 2) : null,
      },
      walBytes: { landing: Math.round(walLanding), processing: Math.round(walProcessing) },
      walBytesPerReading: round((walLanding + walProcessing) / input.readings, 1),
      peakRssBytes: {
        landing: landed.peakRssBytes,
        landingProcess: landed.process,
        workers: workerRss,
      },
    };
  } finally {
    for (const w of workers) await w.stop();
    await db.dispose();
    if (!h.opts.keep) {
      // The landing keeps the file's bytes and chunks: drop them before the next run.
      await dropDatabase(h.cluster, dbName).catch((err) =>
        log(`  dropping ${dbName}: ${err.message}`),
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Peak RSS on a large file

/** Free bytes for unprivileged use in the file system holding `dir`, or null if unknown. */
export function freeBytes(dir: string): number | null {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

/** Disk the peak-RSS run needs: the file, its stored bytes and chunks, WAL, with room to spare. */
export function rssDiskNeeded(gib: number): number {
  return Math.max(10e9, gib * 2 ** 30 * 8);
}

export async function headendRss(
  h: HeadendEnv,
  caps: CliCapabilities,
  fleet: Fleet,
  gib: number,
  landing: 'cli' | 'http',
): Promise<HeadendRss> {
  const dir = path.join(h.tmp, 'rss');
  const minBytes = Math.ceil(gib * 2 ** 30);
  log(`  writing a CSV of ≥ ${gib} GiB from the same simulation (same days and seed, more meters)`);
  const t = process.hrtime.bigint();
  const big = await writeLargeCsv(
    dir,
    { days: fleet.days, seed: h.opts.seed, start: h.opts.start },
    minBytes,
    fleet.csvBytes / fleet.meters,
  );
  const generateMs = ms(t);
  log(
    `  wrote ${big.readings.toLocaleString('en-US')} readings of ${big.meters.toLocaleString('en-US')} meters, ` +
      `${(big.bytes / 2 ** 30).toFixed(2)} GiB in ${(generateMs / 1000).toFixed(0)} s`,
  );
  try {
    const r = await headendRun(h, caps, {
      format: 'csv',
      file: big.csvFile,
      readings: big.readings,
      topologyFile: big.topologyFile,
      workers: 1,
      landing,
      naiveReadingsPerSecond: null,
      tag: 'rss',
    });
    const worker = r.peakRssBytes.workers[0] ?? null;
    return {
      gib,
      fileBytes: big.bytes,
      readings: big.readings,
      meters: big.meters,
      generateSeconds: round(generateMs / 1000, 1),
      landingProcess: r.peakRssBytes.landingProcess,
      landingPeakRssBytes: r.peakRssBytes.landing,
      workerPeakRssBytes: worker,
      targetBytes: RSS_TARGET_BYTES,
      counts: r.counts,
      landingMs: r.landingMs,
      processingMs: r.processingMs,
      readingsPerSecond: r.readingsPerSecond,
      cpuSeconds: r.cpuSeconds,
      walBytesPerReading: r.walBytesPerReading,
    };
  } finally {
    if (!h.opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}
