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
  help: false,
};

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
    else if (name === '--help' || name === '-h') opts.help = true;
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
      const allowZero = key === 'warmupSeconds';
      if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
        throw new Error(`${name} must be a positive number (got ${JSON.stringify(raw)})`);
      }
      if (key !== 'durationSeconds' && key !== 'warmupSeconds' && !Number.isInteger(n)) {
        throw new Error(`${name} must be an integer (got ${JSON.stringify(raw)})`);
      }
      (opts as unknown as Record<string, number>)[key] = n;
    } else {
      throw new Error(`unknown option ${JSON.stringify(arg)}\n\n${USAGE}`);
    }
  }
  return opts;
}
