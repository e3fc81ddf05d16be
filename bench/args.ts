/** Command-line options of `npm run bench -- …`, with the defaults documented in docs/benchmark.md. */

export interface BenchOptions {
  meters: number;
  days: number;
  seed: number;
  /** first day of the simulated data, UTC (YYYY-MM-DD) */
  start: string;
  /** measured seconds of each meter-month load run */
  durationSeconds: number;
  /** warm-up seconds before each meter-month load run */
  warmupSeconds: number;
  /** concurrent clients of the meter-month load */
  clients: number;
  /** the measured meter-month duration is split into this many alternating slices per side */
  rounds: number;
  /** upper bound of requests per meter-month load run (the run also stops at `duration`) */
  maxRequests: number;
  /** sequential requests of instant(at:) */
  instantRequests: number;
  /** sequential requests of transformer(code){series} */
  transformerRequests: number;
  /** keep the temporary directory (data, CSV, logs) */
  keep: boolean;
  /** skip the meter-month and many-meters reads (the GraphQL servers) */
  skipReads: boolean;
  /** `meterdata worker --concurrency` of the head-end workers; null = the CLI's default */
  workerConcurrency: number | null;
  /** skip the head-end ingestion section (landing → queue → workers) */
  skipHeadend: boolean;
  /** formats of the head-end section */
  headendFormats: Array<'csv' | 'cmep' | 'espi'>;
  /** worker process counts of the head-end section */
  headendWorkers: number[];
  /**
   * worker shapes of the head-end section: `default` (the CLI's defaults: a parse thread while
   * the host has a core to spare) and `single` (`--parse-threads 0`: one thread per process, so
   * that N processes bring N threads, as on a host with a core for each)
   */
  headendShapes: Array<'default' | 'single'>;
  /**
   * rounds of the head-end runs (alternating the order of the worker counts); each figure is
   * the median round's, since one run varies by more than one worker process differs from two
   */
  headendRounds: number;
  /** how files land: `meterdata ingest --format` (cli), POST /ingest/files to serve (http), or auto */
  landing: 'auto' | 'cli' | 'http';
  /** skip the peak-RSS measurement (a ≥ 1 GB file through landing and one worker) */
  skipRss: boolean;
  /** size of the peak-RSS file, GiB; null = 1 at the default size, skipped at smaller sizes */
  rssGb: number | null;
  /** write V8 CPU profiles of the head-end landing and worker processes to bench/out */
  cpuProf: boolean;
  /** skip the VEE section (ingest with the rules on vs off, fault recall and false positives) */
  skipVee: boolean;
  /** meters of the VEE fault-recall fleet; null = DEFAULT_VEE_METERS, at most --meters */
  veeMeters: number | null;
  /** scored days of the VEE fault-recall fleet (after clean history); null = DEFAULT_VEE_DAYS, at most --days */
  veeDays: number | null;
  /**
   * rounds of the VEE off / on pair (alternating which goes first); the ratio is the median of
   * the rounds' ratios, since one run on a shared machine varies by more than the rules cost
   */
  veeRounds: number;
  /**
   * months of (empty) reading partitions created before the data's first month in the VEE
   * comparison's databases, as a store that keeps its history has them; 0 = a fresh store
   */
  historyMonths: number;
  /** rounds of the ingest pair, ours and the naive \copy (alternating); the ratio is their median */
  ingestRounds: number;
  help: boolean;
}

export const DEFAULTS: BenchOptions = {
  meters: 2000,
  days: 31,
  seed: 1,
  start: '2026-01-01',
  durationSeconds: 20,
  warmupSeconds: 3,
  clients: 8,
  rounds: 4,
  maxRequests: 1_000_000,
  instantRequests: 200,
  transformerRequests: 100,
  keep: false,
  skipReads: false,
  workerConcurrency: null,
  skipHeadend: false,
  headendFormats: ['csv', 'cmep', 'espi'],
  headendWorkers: [1, 2],
  headendShapes: ['default', 'single'],
  headendRounds: 3,
  landing: 'auto',
  skipRss: false,
  rssGb: null,
  cpuProf: false,
  skipVee: false,
  veeMeters: null,
  veeDays: null,
  veeRounds: 5,
  historyMonths: 0,
  ingestRounds: 3,
  help: false,
};

/** GiB of the peak-RSS file when --rss-gb is not given and the fleet is the default size */
export const DEFAULT_RSS_GB = 1;

/** the VEE fault-recall fleet when --vee-meters / --vee-days are not given (capped by the fleet) */
export const DEFAULT_VEE_METERS = 200;
export const DEFAULT_VEE_DAYS = 28;
/** clean days ingested before the scored window, so the rules have history (as in test/vee) */
export const VEE_HISTORY_DAYS = 28;

export const USAGE = `usage: npm run bench -- [options]

  --meters N               meters in the simulated fleet (default ${DEFAULTS.meters})
  --days D                 days of 15-minute readings (default ${DEFAULTS.days})
  --seed S                 simulator seed (default ${DEFAULTS.seed})
  --start YYYY-MM-DD       first day of the data, UTC (default ${DEFAULTS.start})
  --duration SEC           measured seconds per meter-month load run (default ${DEFAULTS.durationSeconds})
  --warmup SEC             warm-up seconds before each load run (default ${DEFAULTS.warmupSeconds})
  --clients C              concurrent meter-month clients (default ${DEFAULTS.clients})
  --rounds R               alternate ours / PostGraphile in R slices of the duration (default ${DEFAULTS.rounds})
  --max-requests N         request cap per meter-month load run (default ${DEFAULTS.maxRequests})
  --instant-requests N     sequential instant(at:) requests (default ${DEFAULTS.instantRequests})
  --transformer-requests N sequential transformer series requests (default ${DEFAULTS.transformerRequests})
  --keep                   keep the temporary directory (CSV, database, logs)
  --ingest-rounds N        pairs of the ingest run and the naive \\copy, alternating which runs
                           first; the ratio is their median (default ${DEFAULTS.ingestRounds})
  --skip-reads             skip the meter-month and many-meters reads (GraphQL servers)

  head-end ingestion (landing → Redis queue → worker processes → store):
  --skip-headend           skip the section
  --headend-formats LIST   formats, comma-separated (default ${DEFAULTS.headendFormats.join(',')})
  --headend-workers LIST   worker process counts, comma-separated (default ${DEFAULTS.headendWorkers.join(',')})
  --headend-shapes LIST    worker shapes, comma-separated: default (the CLI's defaults: a parse
                           thread while the host has a core to spare) and single (--parse-threads
                           0: one thread per process) (default ${DEFAULTS.headendShapes.join(',')})
  --headend-rounds N       rounds of the head-end runs, alternating the order of the worker
                           counts; each figure is the median round's (default ${DEFAULTS.headendRounds})
  --landing MODE           cli (meterdata ingest --format), http (POST /ingest/files to
                           serve --no-worker) or auto (default: cli when the CLI lands files)
  --worker-concurrency N   pass --concurrency N to each worker (default: the CLI's default)
  --skip-rss               skip the peak-RSS run
  --rss-gb G               size of the peak-RSS CSV in GiB (default ${DEFAULT_RSS_GB} at the default fleet size;
                           smaller fleets skip the run unless this is given)
  --cpu-prof               write V8 CPU profiles of the landing and worker processes to bench/out

  VEE (ingest with MD_VEE=off vs on; fault recall and false positives):
  --skip-vee               skip the section
  --vee-meters N           meters of the fault-recall fleet (default ${DEFAULT_VEE_METERS}, at most --meters)
  --vee-days D             scored days of the fault-recall fleet, after ${VEE_HISTORY_DAYS} clean days
                           (default ${DEFAULT_VEE_DAYS}, at most --days)
  --vee-rounds N           off / on pairs, alternating which runs first; the ratio is their
                           median (default ${DEFAULTS.veeRounds})
  --history-months N       the VEE comparison on a store that already holds N months of
                           (empty) partitions before the data, as years of history leave it
                           (default ${DEFAULTS.historyMonths}: a fresh store; at most 120)
  --help                   this text
`;

const NUMERIC: Record<string, keyof BenchOptions> = {
  '--meters': 'meters',
  '--days': 'days',
  '--seed': 'seed',
  '--duration': 'durationSeconds',
  '--warmup': 'warmupSeconds',
  '--clients': 'clients',
  '--rounds': 'rounds',
  '--max-requests': 'maxRequests',
  '--instant-requests': 'instantRequests',
  '--transformer-requests': 'transformerRequests',
  '--vee-meters': 'veeMeters',
  '--vee-days': 'veeDays',
  '--vee-rounds': 'veeRounds',
  '--history-months': 'historyMonths',
  '--ingest-rounds': 'ingestRounds',
  '--headend-rounds': 'headendRounds',
};

export function parseArgs(argv: readonly string[]): BenchOptions {
  const opts: BenchOptions = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value\n\n${USAGE}`);
      return v;
    };
    if (name === '--keep') opts.keep = true;
    else if (name === '--skip-headend') opts.skipHeadend = true;
    else if (name === '--skip-reads') opts.skipReads = true;
    else if (name === '--skip-vee') opts.skipVee = true;
    else if (name === '--worker-concurrency') {
      const raw = value();
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 1 || n > 64) {
        throw new Error(
          `--worker-concurrency must be an integer from 1 to 64 (got ${JSON.stringify(raw)})`,
        );
      }
      opts.workerConcurrency = n;
    } else if (name === '--skip-rss') opts.skipRss = true;
    else if (name === '--cpu-prof') opts.cpuProf = true;
    else if (name === '--headend-formats') {
      const list = value()
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean);
      const bad = list.filter((f) => !['csv', 'cmep', 'espi'].includes(f));
      if (!list.length || bad.length) {
        throw new Error(
          `--headend-formats takes csv, cmep and/or espi (got ${JSON.stringify(list)})`,
        );
      }
      opts.headendFormats = [...new Set(list)] as BenchOptions['headendFormats'];
    } else if (name === '--headend-workers') {
      const raw = value();
      const list = raw.split(',').map((w) => Number(w.trim()));
      if (!list.length || list.some((n) => !Number.isInteger(n) || n < 1 || n > 16)) {
        throw new Error(
          `--headend-workers takes counts from 1 to 16, e.g. 1,2 (got ${JSON.stringify(raw)})`,
        );
      }
      opts.headendWorkers = [...new Set(list)];
    } else if (name === '--headend-shapes') {
      const list = value()
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean);
      const bad = list.filter((f) => f !== 'default' && f !== 'single');
      if (!list.length || bad.length) {
        throw new Error(
          `--headend-shapes takes default and/or single (got ${JSON.stringify(list)})`,
        );
      }
      opts.headendShapes = [...new Set(list)] as BenchOptions['headendShapes'];
    } else if (name === '--landing') {
      const v = value();
      if (v !== 'auto' && v !== 'cli' && v !== 'http') {
        throw new Error(`--landing must be auto, cli or http (got ${JSON.stringify(v)})`);
      }
      opts.landing = v;
    } else if (name === '--rss-gb') {
      const raw = value();
      const n = Number(raw);
      if (!Number.isFinite(n) || n <= 0 || n > 64) {
        throw new Error(`--rss-gb must be a number of GiB above 0 (got ${JSON.stringify(raw)})`);
      }
      opts.rssGb = n;
    } else if (name === '--help' || name === '-h') opts.help = true;
    else if (name === '--start') {
      const v = value();
      if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))) {
        throw new Error(`--start must be a date YYYY-MM-DD (got ${JSON.stringify(v)})`);
      }
      opts.start = v;
    } else if (name in NUMERIC) {
      const key = NUMERIC[name]!;
      const raw = value();
      const n = Number(raw);
      const allowZero = key === 'warmupSeconds' || key === 'historyMonths';
      if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
        throw new Error(`${name} must be a positive number (got ${JSON.stringify(raw)})`);
      }
      if (key !== 'durationSeconds' && key !== 'warmupSeconds' && !Number.isInteger(n)) {
        throw new Error(`${name} must be an integer (got ${JSON.stringify(raw)})`);
      }
      if (key === 'historyMonths' && n > 120) {
        throw new Error(`--history-months is at most 120 (got ${JSON.stringify(raw)})`);
      }
      (opts as unknown as Record<string, number>)[key] = n;
    } else {
      throw new Error(`unknown option ${JSON.stringify(arg)}\n\n${USAGE}`);
    }
  }
  return opts;
}
