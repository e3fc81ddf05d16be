/**
 * `npm run bench`: makes a fault-free simulated fleet, starts its own PostgreSQL 15 (and Redis),
 * and in one run measures ingest, storage, meter-month reads over GraphQL and many-meters reads,
 * for meterdata and for a naive row-per-reading baseline (psql \copy, PostGraphile v4), then
 * the head-end ingestion path (CSV, CMEP and ESPI files through landing → Redis → worker
 * processes, and a worker's peak RSS on a ≥ 1 GiB file: headend.ts), and VEE (ingest with the
 * rules on vs off, fault recall and false positives: vee.ts). Prints a table and writes
 * bench/out/report-<timestamp>.json. See docs/benchmark.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql, type ConnectionPool } from '@databases/pg';
import { DEFAULT_RSS_GB, DEFAULTS, parseArgs, USAGE, type BenchOptions } from './args';
import { BENCH_AUTH } from './auth';
import {
  checkInterrupted,
  cleanupAll,
  onCleanup,
  runOk,
  startService,
  type Service,
} from './children';
import { writeFleet, type Fleet, type FleetFiles } from './data';
import {
  cliCapabilities,
  freeBytes,
  headendRss,
  headendRun,
  rssDiskNeeded,
  selfCheckFormats,
  type CliCapabilities,
  type HeadendEnv,
} from './headend';
import {
  GraphqlClient,
  type LoadResult,
  type LoadSide,
  runInterleaved,
  runSequential,
  waitForGraphql,
} from './load';
import { copyCommand, naiveInstant, naiveSchemaSql, naiveTransformerSeries } from './naive';
import {
  createDatabase,
  dropDatabase,
  pool,
  psql,
  relationBytes,
  startCluster,
  walLsn,
  walSince,
  type Cluster,
} from './postgres';
import { startRedis } from './redis';
import { veeAcceptance, veeIngestRun, veeSize, type VeeEnv } from './vee';

interface VeeRound {
  order: Array<'on' | 'off'>;
  off: Maybe<VeeIngestRun> | undefined;
  on: Maybe<VeeIngestRun> | undefined;
  ratio: number | null;
}
import {
  computeTargets,
  headendKindLabel,
  isError,
  ratio,
  renderTable,
  writeReport,
  type IngestSide,
  type Maybe,
  type HeadendFormat,
  type Report,
  type Sequential,
  type StorageSide,
  type VeeIngestRun,
} from './report';
import { freePort, lastJsonLine, log, ms, packageRoot, Prng, round, summarize } from './util';

const OURS_DB = 'bench_ours';
const NAIVE_DB = 'bench_naive';
const DAY_MS = 86_400_000;

const Q_METER_MONTH = `query($s: String!, $from: DateTime!, $to: DateTime!) {
  meter(serial: $s) { series(from: $from, to: $to) { start intervalSeconds values quality } } }`;
const Q_INSTANT = `query($at: DateTime!) { instant(at: $at) { reporting total values } }`;
const Q_TRANSFORMER = `query($c: String!, $from: DateTime!, $to: DateTime!) {
  transformer(code: $c) { series(from: $from, to: $to) { total meters { values } } } }`;

const iso = (msec: number) => new Date(msec).toISOString().replace('.000Z', 'Z');

interface Ctx {
  opts: BenchOptions;
  root: string;
  tmp: string;
  logs: string;
  cluster: Cluster;
  fleet: Fleet & { files: FleetFiles };
  report: Report;
  caps: CliCapabilities;
  /** the meter-month window: the first min(days, 31) days */
  window: { from: number; to: number; intervals: number };
}

/** Runs one step; on failure records the error and returns it instead of throwing. */
async function step<T>(ctx: Ctx, name: string, fn: () => Promise<T>): Promise<Maybe<T>> {
  const t = process.hrtime.bigint();
  checkInterrupted();
  log(`${name} …`);
  try {
    const v = await fn();
    ctx.report.timings[name] = round(ms(t) / 1000, 2);
    ctx.report.loadAverage[name] = round(os.loadavg()[0]!, 2);
    log(`${name} done (${(ms(t) / 1000).toFixed(1)} s)`);
    return v;
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    ctx.report.timings[name] = round(ms(t) / 1000, 2);
    ctx.report.errors.push(`${name}: ${msg}`);
    log(`${name} FAILED: ${msg}`);
    return { error: msg };
  }
}

function childEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
    ...BENCH_AUTH.env,
  };
  delete env.NODE_ENV;
  delete env.REDIS_URL;
  return env;
}

function cli(ctx: Ctx, args: string[], databaseUrl: string) {
  return runOk(process.execPath, [path.join(ctx.root, 'bin', 'meterdata.js'), ...args], {
    cwd: ctx.tmp,
    env: childEnv(databaseUrl),
  });
}

// ---------------------------------------------------------------------------------------------
// 1. ingest

async function naiveIngest(ctx: Ctx, db: ConnectionPool, database = NAIVE_DB): Promise<IngestSide> {
  await db.query(sql`CHECKPOINT`);
  const wal = await walLsn(db);
  const r = await psql(ctx.cluster, database, copyCommand(ctx.fleet.csvFile));
  const walBytes = await walSince(db, wal);
  const [{ n }] = await db.query(sql`SELECT count(*)::int AS n FROM readings_naive`);
  if (n !== ctx.fleet.readings) {
    throw new Error(`naive table holds ${n} rows after \\copy, expected ${ctx.fleet.readings}`);
  }
  return {
    readings: ctx.fleet.readings,
    wallMs: round(r.ms, 1),
    readingsPerSecond: Math.round(ctx.fleet.readings / (r.ms / 1000)),
    walBytes,
  };
}

async function oursIngest(ctx: Ctx, db: ConnectionPool, database = OURS_DB): Promise<IngestSide> {
  await db.query(sql`CHECKPOINT`);
  const wal = await walLsn(db);
  // Since ingest goes through the landing, --wait makes the CLI process the file itself (no
  // REDIS_URL here: the in-process queue) and print the counts.
  const args = ['ingest', ctx.fleet.csvFile, ...(ctx.caps.ingestWaits ? ['--wait'] : []), '--json'];
  const r = await cli(ctx, args, ctx.cluster.urlFor(database));
  const walBytes = await walSince(db, wal);
  fs.writeFileSync(path.join(ctx.logs, 'ingest.stderr.log'), r.stderr);
  const output = lastJsonLine(r.stdout, 'ingest --json');
  const accepted = Number(output.accepted);
  if (accepted !== ctx.fleet.readings) {
    log(`  WARNING: ingest reports accepted=${output.accepted}, the CSV has ${ctx.fleet.readings}`);
  }
  return {
    readings: ctx.fleet.readings,
    wallMs: round(r.ms, 1),
    readingsPerSecond: Math.round(ctx.fleet.readings / (r.ms / 1000)),
    walBytes,
    command: `meterdata ${args.map((a) => (a === ctx.fleet.csvFile ? 'readings.csv' : a)).join(' ')}`,
    output,
  };
}

type IngestPair = { naive: Maybe<IngestSide> | undefined; ours: Maybe<IngestSide> | undefined };

/**
 * Further rounds of the ingest pair (--ingest-rounds), each into a fresh naive database and a
 * fresh meterdata database that are dropped afterwards, alternating which side runs first. One
 * run on a shared machine varies by more than the differences measured, so the reported ratio
 * is the median of the rounds' ratios, with its round's two runs.
 */
async function ingestRounds(ctx: Ctx, first: IngestPair): Promise<void> {
  const { report, cluster, fleet, opts } = ctx;
  const rps = (s: Maybe<IngestSide> | undefined) => (s && !isError(s) ? s.readingsPerSecond : null);
  const rounds: Array<IngestPair & { order: Array<'ours' | 'naive'> }> = [
    { ...first, order: ['naive', 'ours'] },
  ];
  for (let k = 1; k < opts.ingestRounds && !isError(first.ours) && !isError(first.naive); k++) {
    const order: Array<'ours' | 'naive'> = k % 2 === 1 ? ['ours', 'naive'] : ['naive', 'ours'];
    const round: IngestPair & { order: Array<'ours' | 'naive'> } = {
      naive: undefined,
      ours: undefined,
      order,
    };
    const label = `(round ${k + 1} of ${opts.ingestRounds})`;
    for (const side of order) {
      const name = `bench_${side}_round`;
      await createDatabase(cluster, name);
      const db = pool(cluster.urlFor(name), 2);
      try {
        if (side === 'naive') {
          await psql(
            cluster,
            name,
            naiveSchemaSql(fleet.startMs, fleet.startMs + fleet.days * DAY_MS),
          );
          round.naive = await step(ctx, `ingest: naive \\copy ${label}`, () =>
            naiveIngest(ctx, db, name),
          );
        } else {
          await cli(ctx, ['migrate'], cluster.urlFor(name));
          await cli(ctx, ['topology', 'import', fleet.topologyFile], cluster.urlFor(name));
          round.ours = await step(ctx, `ingest: meterdata ingest ${label}`, () =>
            oursIngest(ctx, db, name),
          );
        }
      } finally {
        await db.dispose();
        await dropDatabase(cluster, name);
      }
    }
    rounds.push(round);
  }
  const scored = rounds.map((r) => ({ ...r, ratio: ratio(rps(r.ours), rps(r.naive)) }));
  const measured = scored.filter((r) => r.ratio !== null);
  const middle =
    [...measured].sort((a, b) => a.ratio! - b.ratio!)[(measured.length - 1) >> 1] ?? scored[0]!;
  report.ingest.naive = middle.naive;
  report.ingest.ours = middle.ours;
  report.ingest.ratio = middle.ratio;
  report.ingest.rounds = scored.map((r) => ({
    order: r.order,
    oursReadingsPerSecond: rps(r.ours),
    naiveReadingsPerSecond: rps(r.naive),
    ratio: r.ratio,
  }));
  if (scored.length > 1 && middle.ratio !== null) {
    log(
      `  ingest ratio ${middle.ratio.toFixed(2)}× (median of ${scored.map((r) => (r.ratio === null ? '—' : r.ratio.toFixed(2))).join(', ')})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// 2. storage

async function storage(ctx: Ctx, db: ConnectionPool, tables: string[]): Promise<StorageSide> {
  await db.query(sql`VACUUM ANALYZE`);
  const b = await relationBytes(db, tables);
  const counts = await Promise.all(
    tables.map(
      async (t) =>
        (await db.query(sql`SELECT count(*)::float8 AS n FROM ${sql.ident(t)}`))[0].n as number,
    ),
  );
  return {
    ...b,
    rows: counts.reduce((a, c) => a + c, 0),
    bytesPerReading: round(b.bytes / ctx.fleet.readings, 3),
  };
}

// ---------------------------------------------------------------------------------------------
// 3. and 4. reads over GraphQL

async function startOurServer(ctx: Ctx): Promise<{ svc: Service; client: GraphqlClient }> {
  const port = await freePort();
  const logFile = path.join(ctx.logs, 'meterdata-serve.log');
  const svc = startService(
    'meterdata serve',
    process.execPath,
    [path.join(ctx.root, 'bin', 'meterdata.js'), 'serve', '--port', String(port)],
    { cwd: ctx.tmp, env: childEnv(ctx.cluster.urlFor(OURS_DB)), logFile },
  );
  const endpoint = { port, path: '/graphql', headers: BENCH_AUTH.headers };
  await waitForGraphql(endpoint, {
    timeoutMs: 60_000,
    exited: svc.exited,
    name: svc.name,
    logFile,
  });
  return { svc, client: new GraphqlClient(endpoint, ctx.opts.clients) };
}

async function startPostgraphile(ctx: Ctx): Promise<{ svc: Service; client: GraphqlClient }> {
  const bin = path.join(ctx.root, 'node_modules', 'postgraphile', 'cli.js');
  if (!fs.existsSync(bin)) throw new Error(`${bin} not found (postgraphile@4 is a dev dependency)`);
  // See postgraphile-graphql.ts: one graphql instance for the whole PostGraphile process.
  const node = [process.execPath, '-r', path.join(__dirname, 'postgraphile-graphql.js'), bin];
  const help = await runOk(node[0]!, [...node.slice(1), '--help']);
  const partitioned = help.stdout.includes('--use-partitioned-parent');
  const port = await freePort();
  const logFile = path.join(ctx.logs, 'postgraphile.log');
  const args = [
    '--connection',
    ctx.cluster.urlFor(NAIVE_DB),
    '--schema',
    'public',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--disable-query-log',
    '--disable-graphiql',
    ...(partitioned ? ['--use-partitioned-parent'] : []),
  ];
  const env = { ...process.env };
  delete env.NODE_ENV;
  delete env.DATABASE_URL;
  const svc = startService('PostGraphile', node[0]!, [...node.slice(1), ...args], {
    cwd: ctx.tmp,
    env,
    logFile,
  });
  const endpoint = { port, path: '/graphql' };
  await waitForGraphql(endpoint, {
    timeoutMs: 60_000,
    exited: svc.exited,
    name: svc.name,
    logFile,
  });
  if (!partitioned) log('  postgraphile has no --use-partitioned-parent; partitions are exposed');
  return { svc, client: new GraphqlClient(endpoint, ctx.opts.clients) };
}

/** Serials in a seeded random order, cycled through: random meters, the same on both sides. */
function meterPicker(ctx: Ctx, salt: number): () => string {
  const rng = new Prng(ctx.opts.seed * 7919 + salt);
  return () => rng.pick(ctx.fleet.serials);
}

/** Checks one meter-month of ours; returns the load side (random meters, the same window). */
async function oursMeterMonth(ctx: Ctx, client: GraphqlClient): Promise<LoadSide> {
  const { from, to, intervals } = ctx.window;
  const serial = ctx.fleet.serials[0]!;
  const d = await client.query<{
    meter: {
      series: { start: string; intervalSeconds: number; values: unknown[]; quality: unknown[] };
    };
  }>(Q_METER_MONTH, { s: serial, from: iso(from), to: iso(to) });
  const s = d.meter?.series;
  if (!s || s.values.length !== intervals) {
    throw new Error(
      `meter(${serial}).series returned ${s?.values.length} values, expected ${intervals}`,
    );
  }
  const present = s.values.filter((v) => v !== null).length;
  if (present !== intervals) {
    throw new Error(
      `meter(${serial}).series has ${intervals - present} null values (no faults were injected)`,
    );
  }
  const pick = meterPicker(ctx, 1);
  const vars = { from: iso(from), to: iso(to) };
  return {
    name: 'meterdata',
    client,
    next: () => JSON.stringify({ query: Q_METER_MONTH, variables: { s: pick(), ...vars } }),
  };
}

/** Checks PostGraphile's generated field and one meter-month; returns the load side. */
async function postgraphileMeterMonth(
  ctx: Ctx,
  client: GraphqlClient,
): Promise<LoadSide & { field: string }> {
  const schema = await client.query<{
    __schema: { queryType: { fields: Array<{ name: string; args: Array<{ name: string }> }> } };
  }>('{ __schema { queryType { fields { name args { name } } } } }');
  const field = schema.__schema.queryType.fields.find((f) => f.name === 'meterSeries');
  const args = field?.args.map((a) => a.name) ?? [];
  if (!field || !['serial', 'fromTs', 'toTs'].every((a) => args.includes(a))) {
    const names = schema.__schema.queryType.fields.map((f) => f.name).join(', ');
    throw new Error(
      `PostGraphile has no Query.meterSeries(serial, fromTs, toTs) (fields: ${names})`,
    );
  }
  const q = `query($s: String!, $from: Datetime!, $to: Datetime!) {
  meterSeries(serial: $s, fromTs: $from, toTs: $to) { nodes { intervalStart value } } }`;
  const { from, to, intervals } = ctx.window;
  const serial = ctx.fleet.serials[0]!;
  const d = await client.query<{
    meterSeries: { nodes: Array<{ intervalStart: string; value: number }> };
  }>(q, { s: serial, from: iso(from), to: iso(to) });
  const n = d.meterSeries?.nodes.length;
  if (n !== intervals) {
    throw new Error(`meterSeries(${serial}) returned ${n} nodes, expected ${intervals}`);
  }
  const pick = meterPicker(ctx, 1);
  const vars = { from: iso(from), to: iso(to) };
  return {
    name: 'PostGraphile',
    client,
    next: () => JSON.stringify({ query: q, variables: { s: pick(), ...vars } }),
    field: `meterSeries(${args.join(', ')})`,
  };
}

function instantPicker(ctx: Ctx): () => number {
  const rng = new Prng(ctx.opts.seed * 104_729 + 2);
  const n = ctx.fleet.days * (86_400 / ctx.fleet.intervalSeconds);
  return () => ctx.fleet.startMs + rng.int(n) * ctx.fleet.intervalSeconds * 1000;
}

function transformerPicker(ctx: Ctx): () => { code: string; serials: string[] } {
  const rng = new Prng(ctx.opts.seed * 1_299_709 + 3);
  return () => rng.pick(ctx.fleet.transformers);
}

async function oursInstant(ctx: Ctx, client: GraphqlClient): Promise<Sequential> {
  const at = ctx.fleet.startMs + 48 * ctx.fleet.intervalSeconds * 1000;
  const d = await client.query<{
    instant: { reporting: number; total: number; values: unknown[] };
  }>(Q_INSTANT, { at: iso(at) });
  if (d.instant?.reporting !== ctx.fleet.meters) {
    log(
      `  WARNING: instant(${iso(at)}).reporting = ${d.instant?.reporting}, fleet has ${ctx.fleet.meters} meters`,
    );
  }
  const pick = instantPicker(ctx);
  return runSequential(
    client,
    () => JSON.stringify({ query: Q_INSTANT, variables: { at: iso(pick()) } }),
    ctx.opts.instantRequests,
  );
}

async function oursTransformer(ctx: Ctx, client: GraphqlClient): Promise<Sequential> {
  const { from, to, intervals } = ctx.window;
  const tx = ctx.fleet.transformers[0]!;
  const d = await client.query<{
    transformer: { series: { total: unknown[]; meters: Array<{ values: unknown[] }> } };
  }>(Q_TRANSFORMER, { c: tx.code, from: iso(from), to: iso(to) });
  const s = d.transformer?.series;
  if (!s || s.meters.length !== tx.serials.length || s.total.length !== intervals) {
    throw new Error(
      `transformer(${tx.code}).series returned ${s?.meters.length} meters × ${s?.total.length} totals, expected ${tx.serials.length} × ${intervals}`,
    );
  }
  const pick = transformerPicker(ctx);
  const vars = { from: iso(from), to: iso(to) };
  return runSequential(
    client,
    () => JSON.stringify({ query: Q_TRANSFORMER, variables: { c: pick().code, ...vars } }),
    ctx.opts.transformerRequests,
  );
}

/** Context only: at most `count` queries and about `budgetMs` (the naive instant is slow). */
async function sqlSequential(
  count: number,
  fn: () => Promise<unknown>,
  budgetMs = 15_000,
): Promise<Sequential> {
  const lat: number[] = [];
  const until = Date.now() + budgetMs;
  for (let i = 0; i < count && (i < 5 || Date.now() < until); i++) {
    const t = process.hrtime.bigint();
    await fn();
    lat.push(ms(t));
  }
  return { ...summarize(lat), errors: 0 };
}

// ---------------------------------------------------------------------------------------------
// 3. and 4. (the servers' part)

async function reads(ctx: Ctx, naiveDb: ConnectionPool): Promise<void> {
  const { opts, report } = ctx;
  // 3. + 4.: both servers up; ours answers the many-meters questions first, then the
  // meter-month load alternates between the two.
  const ours = await step(ctx, 'start meterdata serve', () => startOurServer(ctx));
  let pg: Maybe<{ svc: Service; client: GraphqlClient }> | undefined;
  try {
    const oursSide = isError(ours)
      ? ours
      : await step(ctx, 'meter-month: check ours', () => oursMeterMonth(ctx, ours.client));
    report.manyMeters.ours = isError(ours)
      ? { instant: ours, transformerMonth: ours }
      : {
          instant: await step(ctx, 'instant: ours', () => oursInstant(ctx, ours.client)),
          transformerMonth: await step(ctx, 'transformer month: ours', () =>
            oursTransformer(ctx, ours.client),
          ),
        };
    pg = await step(ctx, 'start PostGraphile', () => startPostgraphile(ctx));
    const pgClient = isError(pg) ? pg : pg.client;
    const pgSide = isError(pgClient)
      ? pgClient
      : await step(ctx, 'meter-month: check PostGraphile', () =>
          postgraphileMeterMonth(ctx, pgClient),
        );
    const sides = [oursSide, pgSide].filter((x): x is LoadSide => !isError(x));
    const load = sides.length
      ? await step(ctx, 'meter-month: load', () =>
          runInterleaved(sides, {
            clients: opts.clients,
            warmupSeconds: opts.warmupSeconds,
            durationSeconds: opts.durationSeconds,
            maxRequests: opts.maxRequests,
            rounds: opts.rounds,
          }),
        )
      : undefined;
    const resultOf = (side: Maybe<LoadSide>): Maybe<LoadResult> =>
      isError(side) ? side : isError(load) ? load : load![sides.indexOf(side)]!;
    report.meterMonth.ours = resultOf(oursSide);
    const pgResult = resultOf(pgSide);
    report.meterMonth.postgraphile = isError(pgResult)
      ? pgResult
      : { ...pgResult, field: isError(pgSide) ? '' : pgSide.field };
  } finally {
    for (const s of [ours, pg]) {
      if (s && !isError(s)) {
        s.client.close();
        await s.svc.stop();
      }
    }
  }
  const mo = report.meterMonth.ours;
  const mp = report.meterMonth.postgraphile;
  report.meterMonth.ratio = ratio(
    mo && !isError(mo) ? mo.requestsPerSecond : null,
    mp && !isError(mp) ? mp.requestsPerSecond : null,
  );

  // 4. naive equivalents in SQL, for context (same instants and transformers as ours)
  const pickAt = instantPicker(ctx);
  const pickTx = transformerPicker(ctx);
  report.manyMeters.naiveSql = {
    instant: await step(ctx, 'instant: naive SQL', () =>
      sqlSequential(opts.instantRequests, () => naiveInstant(naiveDb, pickAt())),
    ),
    transformerMonth: await step(ctx, 'transformer month: naive SQL', () =>
      sqlSequential(opts.transformerRequests, () =>
        naiveTransformerSeries(naiveDb, pickTx().serials, ctx.window.from, ctx.window.to),
      ),
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// 5. head-end ingestion (headend.ts)

async function headend(ctx: Ctx, outDir: string): Promise<void> {
  const { opts, report, fleet, caps } = ctx;
  const h = report.headend;
  if (opts.skipHeadend) {
    h.skipped = '--skip-headend';
    return;
  }
  // The baseline is the median of the naive \copy rounds (not the naive run of the median
  // ingest round, which may be the slowest or the fastest of them).
  const naiveRuns = (report.ingest.rounds ?? [])
    .map((r) => r.naiveReadingsPerSecond)
    .filter((v): v is number => v !== null)
    .sort((a, b) => a - b);
  const naive = report.ingest.naive;
  h.naiveReadingsPerSecond = naiveRuns.length
    ? naiveRuns[(naiveRuns.length - 1) >> 1]!
    : naive && !isError(naive)
      ? naive.readingsPerSecond
      : null;
  const files: Record<HeadendFormat, { file: string; bytes: number; readings: number }> = {
    csv: { file: fleet.csvFile, bytes: fleet.csvBytes, readings: fleet.readings },
    ...(fleet.files.cmep ? { cmep: fleet.files.cmep } : {}),
    ...(fleet.files.espi ? { espi: fleet.files.espi } : {}),
  } as Record<HeadendFormat, { file: string; bytes: number; readings: number }>;
  h.files = {};
  for (const f of opts.headendFormats) {
    h.files[f] = { bytes: files[f].bytes, readings: files[f].readings };
  }
  const landing = opts.landing === 'auto' ? (caps.ingestLands ? 'cli' : 'http') : opts.landing;
  h.landing = landing;
  // What is missing fails every run with the reason; the other sections are kept.
  let missing: string | null = null;
  if (!caps.worker) missing = '`meterdata worker` is not available in this build';
  else if (landing === 'cli' && !caps.ingestLands) {
    missing = '`meterdata ingest --format` (landing without --wait) is not available in this build';
  }
  const redis = missing
    ? { error: missing }
    : await step(ctx, 'start Redis', () => startRedis(ctx.root, path.join(ctx.tmp, 'redis')));
  if (isError(redis)) {
    if (missing) report.errors.push(`head-end: ${missing}`);
    for (const f of opts.headendFormats) {
      for (const n of opts.headendWorkers) {
        for (const shape of opts.headendShapes)
          h.runs.push({ format: f, workers: n, shape, round: 0, error: redis.error });
      }
    }
    h.rss = { error: redis.error };
    return;
  }
  h.redis = redis.version;
  report.environment.redis = redis.version;
  let profileDir: string | null = null;
  if (opts.cpuProf) {
    profileDir = path.join(outDir, `profiles-${report.startedAt.replace(/:/g, '-')}`);
    fs.mkdirSync(profileDir, { recursive: true });
    log(`CPU profiles go to ${profileDir}`);
  }
  const env: HeadendEnv = {
    opts,
    root: ctx.root,
    tmp: ctx.tmp,
    logs: ctx.logs,
    cluster: ctx.cluster,
    redis,
    profileDir,
  };
  try {
    h.selfCheck = await step(ctx, 'head-end: formats self-check', () =>
      selfCheckFormats(path.join(ctx.tmp, 'selfcheck'), { seed: opts.seed, start: opts.start }),
    );
    // Rounds alternate the order of the worker counts: a later run may find the machine warmer
    // (or busier) than an earlier one.
    for (let round = 0; round < opts.headendRounds; round++) {
      const counts = round % 2 ? [...opts.headendWorkers].reverse() : opts.headendWorkers;
      for (const shape of opts.headendShapes) {
        for (const format of opts.headendFormats) {
          for (const workers of counts) {
            const of =
              opts.headendRounds > 1 ? ` (round ${round + 1} of ${opts.headendRounds})` : '';
            const what = headendKindLabel({ format, workers, shape });
            const r = isError(h.selfCheck)
              ? h.selfCheck
              : await step(ctx, `head-end: ${what}${of}`, () =>
                  headendRun(env, caps, {
                    format,
                    file: files[format].file,
                    readings: files[format].readings,
                    topologyFile: fleet.topologyFile,
                    workers,
                    shape,
                    landing,
                    naiveReadingsPerSecond: h.naiveReadingsPerSecond ?? null,
                    tag: `${format}_${workers}w${shape === 'single' ? '1t' : ''}_r${round + 1}`,
                  }),
                );
            h.runs.push(
              isError(r) ? { format, workers, shape, round, error: r.error } : { ...r, round },
            );
            if (!isError(r)) {
              log(
                `  ${what}: ${r.readingsPerSecond.toLocaleString('en-US')} readings/s ` +
                  `(landing ${(r.landingMs / 1000).toFixed(1)} s + workers ${(r.processingMs / 1000).toFixed(1)} s)` +
                  (r.ratio !== null ? `, ${r.ratio.toFixed(2)}× naive \\copy` : ''),
              );
            }
          }
        }
      }
    }

    // Peak RSS on a ≥ 1 GiB file: on by default at the default fleet size only.
    const defaultSize = opts.meters * opts.days >= DEFAULTS.meters * DEFAULTS.days;
    const gib = opts.rssGb ?? (defaultSize ? DEFAULT_RSS_GB : null);
    const free = freeBytes(ctx.tmp);
    if (opts.skipRss) h.rss = { skipped: '--skip-rss' };
    else if (gib === null) {
      h.rss = { skipped: 'smaller fleet than the default size: pass --rss-gb G to run it' };
    } else if (free !== null && free < rssDiskNeeded(gib)) {
      const msg = `only ${(free / 1e9).toFixed(1)} GB free in ${ctx.tmp}; the peak-RSS run of a ${gib} GiB file needs ${(rssDiskNeeded(gib) / 1e9).toFixed(0)} GB (the landing keeps the file's bytes and chunks in PostgreSQL)`;
      log(`peak RSS skipped: ${msg}`);
      h.rss = { skipped: msg };
    } else {
      h.rss = await step(ctx, `head-end: peak RSS, ${gib} GiB CSV`, () =>
        headendRss(env, caps, fleet, gib, landing),
      );
    }
    if (h.rss && 'skipped' in h.rss) log(`peak RSS run skipped: ${h.rss.skipped}`);
  } finally {
    await redis.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 6. VEE (vee.ts): ingest with the rules off and on, then fault recall and false positives

async function vee(ctx: Ctx): Promise<void> {
  const { opts, report, fleet } = ctx;
  const v = report.vee;
  if (opts.skipVee) {
    v.skipped = '--skip-vee';
    return;
  }
  const env: VeeEnv = {
    opts,
    root: ctx.root,
    tmp: ctx.tmp,
    logs: ctx.logs,
    cluster: ctx.cluster,
  };
  // Off and on back to back on the same CSV, each into a fresh database, in --vee-rounds
  // rounds alternating which goes first; the ingest section's run is not reused, since it ran
  // with whatever MD_VEE the environment holds. One run on this kind of machine varies by more
  // than the rules cost (other tenants, checkpoints, autovacuum), so the ratio is the median of
  // the rounds' ratios, and every round is reported.
  const rps = (r: Maybe<VeeIngestRun> | undefined) =>
    r && !isError(r) ? r.readingsPerSecond : null;
  const rounds: VeeRound[] = [];
  const all: Array<Maybe<VeeIngestRun>> = [];
  for (let k = 0; k < opts.veeRounds; k++) {
    const order = k % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
    const runs: Partial<Record<'on' | 'off', Maybe<VeeIngestRun>>> = {};
    for (const mode of order) {
      const label = opts.veeRounds > 1 ? ` (round ${k + 1} of ${opts.veeRounds})` : '';
      runs[mode] = await step(ctx, `vee: ingest, MD_VEE=${mode}${label}`, () =>
        veeIngestRun(env, fleet, mode),
      );
      all.push(runs[mode]);
    }
    rounds.push({
      order: [...order],
      off: runs.off,
      on: runs.on,
      ratio: ratio(rps(runs.on), rps(runs.off)),
    });
  }
  const measured = rounds.filter((r) => r.ratio !== null);
  const middle = [...measured].sort((x, y) => x.ratio! - y.ratio!)[(measured.length - 1) >> 1];
  const probes = all.map((r) => (r && !isError(r) ? r : null));
  // The probes say whether each run really did (on) or did not (off) run the rules.
  const honoured = probes.every((r) => r !== null)
    ? probes.every((r) => r!.probe.raised === (r!.vee === 'on'))
    : null;
  const on = middle?.on;
  const off = middle?.off;
  v.onOff = {
    order: middle?.order ?? ['off', 'on'],
    off,
    on,
    ratio: middle?.ratio ?? null,
    switchHonoured: honoured,
    rounds: rounds.map((r) => ({
      order: r.order,
      offReadingsPerSecond: rps(r.off),
      onReadingsPerSecond: rps(r.on),
      ratio: r.ratio,
    })),
  };
  if (v.onOff.ratio !== null) {
    log(
      `  VEE on ${rps(on)!.toLocaleString('en-US')} vs off ${rps(off)!.toLocaleString('en-US')} readings/s: ${v.onOff.ratio.toFixed(2)}×` +
        (rounds.length > 1
          ? ` (median of ${rounds.map((r) => (r.ratio === null ? '—' : r.ratio.toFixed(2))).join(', ')})`
          : ''),
    );
  }
  if (honoured === false) {
    log(
      `  WARNING: MD_VEE did not switch the rules (probe raised: off=${!isError(off) && off?.probe.raised}, on=${!isError(on) && on?.probe.raised})`,
    );
  }
  const size = veeSize(opts);
  v.acceptance = await step(
    ctx,
    `vee: fault recall, ${size.meters} meters × ${size.days} days`,
    () => veeAcceptance(env),
  );
}

// ---------------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const opts = parseArgs(argv);
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const startMs = Date.parse(`${opts.start}T00:00:00Z`);
  if (startMs + opts.days * DAY_MS > Date.now() - 3_600_000) {
    throw new Error(
      `--start ${opts.start} + ${opts.days} days reaches into the future: ingest rejects future intervals; pass an earlier --start`,
    );
  }
  const root = packageRoot();
  const started = new Date();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meterdata-bench-'));
  fs.chmodSync(tmp, 0o755); // the postgres user must reach tmp/pg
  // Registered first, so it runs last: after the servers and the cluster have stopped.
  onCleanup(
    'temporary directory',
    async () => {
      if (fs.existsSync(path.join(tmp, 'pg', 'data', 'postmaster.pid'))) {
        log(`PostgreSQL in ${tmp}/pg may still be running: directory kept, stop it with pg_ctl`);
      } else if (opts.keep) log(`kept ${tmp}`);
      else fs.rmSync(tmp, { recursive: true, force: true });
    },
    () => {
      const running = fs.existsSync(path.join(tmp, 'pg', 'data', 'postmaster.pid'));
      if (!opts.keep && !running) fs.rmSync(tmp, { recursive: true, force: true });
    },
  );
  const logs = path.join(tmp, 'logs');
  fs.mkdirSync(logs);
  log(`working in ${tmp}`);

  const windowDays = Math.min(opts.days, 31);
  const report: Report = {
    startedAt: started.toISOString(),
    options: { ...opts },
    environment: {
      node: process.versions.node,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    },
    data: {},
    ingest: {},
    storage: {},
    meterMonth: {},
    manyMeters: {},
    headend: { runs: [] },
    vee: {},
    targets: [],
    timings: {},
    loadAverage: { start: round(os.loadavg()[0]!, 2) },
    errors: [],
  };
  const outDir = path.join(root, 'bench', 'out');
  let exitCode = 0;
  try {
    const caps = await cliCapabilities(root);
    const formats = opts.skipHeadend ? [] : opts.headendFormats;
    log(
      `simulating ${opts.meters} meters × ${opts.days} days (seed ${opts.seed}, no faults)` +
        (formats.length
          ? `; CSV${formats.includes('cmep') ? ', CMEP' : ''}${formats.includes('espi') ? ', ESPI' : ''}`
          : ''),
    );
    const tg = process.hrtime.bigint();
    const fleet = await writeFleet(path.join(tmp, 'data'), opts, {
      cmep: formats.includes('cmep'),
      espi: formats.includes('espi'),
    });
    report.timings.generate = round(ms(tg) / 1000, 2);
    report.data = {
      meters: fleet.meters,
      days: fleet.days,
      seed: opts.seed,
      start: iso(fleet.startMs),
      intervalSeconds: fleet.intervalSeconds,
      readings: fleet.readings,
      deliveredReadings: fleet.deliveredReadings,
      transformers: fleet.transformers.length,
      csvBytes: fleet.csvBytes,
      ...(fleet.files.cmep ? { cmepBytes: fleet.files.cmep.bytes } : {}),
      ...(fleet.files.espi ? { espiBytes: fleet.files.espi.bytes } : {}),
    };
    log(
      `wrote ${fleet.readings.toLocaleString('en-US')} readings (${(fleet.csvBytes / 2 ** 20).toFixed(0)} MiB CSV)`,
    );

    log('starting PostgreSQL');
    const cluster = await startCluster(root, path.join(tmp, 'pg'));
    report.environment.postgres = cluster.version;
    report.environment.postgresSettings = cluster.settings;
    const windowFrom = fleet.startMs;
    const ctx: Ctx = {
      opts,
      root,
      tmp,
      logs,
      cluster,
      fleet,
      report,
      caps,
      window: {
        from: windowFrom,
        to: windowFrom + windowDays * DAY_MS,
        intervals: (windowDays * 86_400) / fleet.intervalSeconds,
      },
    };
    report.meterMonth.window = {
      from: iso(ctx.window.from),
      to: iso(ctx.window.to),
      intervals: ctx.window.intervals,
    };

    await createDatabase(cluster, NAIVE_DB);
    await createDatabase(cluster, OURS_DB);
    const naiveDb = pool(cluster.urlFor(NAIVE_DB), 2);
    const oursDb = pool(cluster.urlFor(OURS_DB), 2);
    try {
      await step(ctx, 'naive schema', () =>
        psql(cluster, NAIVE_DB, naiveSchemaSql(fleet.startMs, fleet.startMs + fleet.days * DAY_MS)),
      );
      const prepared = await step(ctx, 'meterdata migrate + topology import', async () => {
        await cli(ctx, ['migrate'], cluster.urlFor(OURS_DB));
        await cli(ctx, ['topology', 'import', fleet.topologyFile], cluster.urlFor(OURS_DB));
      });

      // 1. ingest: the first round into the databases the later sections read
      const naive1 = await step(ctx, 'ingest: naive \\copy', () => naiveIngest(ctx, naiveDb));
      // Untimed: otherwise autovacuum works through the freshly copied naive table while ours
      // is being timed, on the same two cores.
      await step(ctx, 'vacuum naive', () => naiveDb.query(sql`VACUUM ANALYZE`));
      const ours1 = isError(prepared)
        ? prepared
        : await step(ctx, 'ingest: meterdata ingest', () => oursIngest(ctx, oursDb));
      await ingestRounds(ctx, { naive: naive1, ours: ours1 });

      // 2. storage
      report.storage.naive = await step(ctx, 'storage: naive', () =>
        storage(ctx, naiveDb, ['readings_naive']),
      );
      report.storage.ours = isError(report.ingest.ours)
        ? report.ingest.ours
        : await step(ctx, 'storage: ours', () =>
            storage(ctx, oursDb, ['reading_day', 'reading_history']),
          );
      report.storage.ratio = ratio(
        isError(report.storage.ours) ? null : (report.storage.ours?.bytesPerReading ?? null),
        isError(report.storage.naive) ? null : (report.storage.naive?.bytesPerReading ?? null),
      );

      if (opts.skipReads) log('meter-month and many-meters reads skipped (--skip-reads)');
      else await reads(ctx, naiveDb);

      // 5. head-end ingestion: landing → Redis → worker processes, and peak RSS
      await headend(ctx, outDir);

      // 6. VEE: the rules' cost on ingest, fault recall and false positives
      await vee(ctx);
    } finally {
      await naiveDb.dispose();
      await oursDb.dispose();
    }
  } catch (err) {
    report.errors.push((err as Error).message);
    log(`FAILED: ${(err as Error).stack ?? err}`);
    exitCode = 1;
  } finally {
    await cleanupAll();
  }

  const finished = new Date();
  report.finishedAt = finished.toISOString();
  report.durationSeconds = round((finished.getTime() - started.getTime()) / 1000, 1);
  report.targets = computeTargets(report);
  process.stdout.write(renderTable(report) + '\n');
  const file = writeReport(outDir, report);
  process.stdout.write(
    `\nreport: ${path.relative(process.cwd(), file) || file} (${report.durationSeconds} s)\n`,
  );
  if (report.errors.length) exitCode = 1;
  return exitCode;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  async (err) => {
    await cleanupAll();
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
