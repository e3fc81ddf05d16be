/**
 * `meterdata serve`: the GraphQL gateway on the configured database, and an ingest worker
 * processing landed files in the same process (unless `--no-worker`). With `--demo`, an empty
 * database first gets a simulated fleet, and the banner shows operations to paste. Stops
 * cleanly on SIGINT / SIGTERM (the worker after its chunks in flight, the server, then the
 * database).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { configuredWorkerOptions, IngestWorker } from '../ingest/worker';
import { openRuntime } from '../runtime';
import type { ServerHandle } from '../server';
import {
  DEMO_FLEET,
  type DemoFleet,
  type DemoPointers,
  demoPointers,
  loadDemoIfEmpty,
} from './demo';
import { type CliIo, fmtInt, writeLine, positiveInt } from './io';

export interface ServeOptions {
  port?: number;
  host?: string;
  demo?: boolean;
  /** demo fleet (tests); default DEMO_FLEET */
  demoFleet?: DemoFleet;
  /** run an ingest worker in this process (default true; `--no-worker`) */
  worker?: boolean;
  /** chunks the in-process worker has in flight at once (default 1) */
  workerConcurrency?: number;
}

/** Example operations built from real serials and codes in the database. */
export function exampleOperations(p: DemoPointers): string[] {
  const out = [
    `# a meter and one day of its 15-minute series (kWh per interval)
{
  meter(serial: "${p.serial}") {
    serial timeZone
    transformer { code ratedKva }
    series(from: "${p.day}T00:00:00Z", to: "${p.nextDay}T00:00:00Z") {
      start intervalSeconds count missing total values quality
    }
  }
}`,
    `# energy per local day over a week, in the meter's time zone
{
  meter(serial: "${p.serial}") {
    usage(from: "${p.localWeek.from}", to: "${p.localWeek.to}", resolution: DAY) {
      timeZone total
      buckets { localStart value intervals missing estimated }
    }
  }
}`,
  ];
  if (p.transformer) {
    out.push(`# the meters of a transformer
{
  transformer(code: "${p.transformer}") {
    code ratedKva phase
    meters { serial status commPath channels }
  }
}`);
  }
  return out;
}

/** Resolves when the process is asked to stop (or the test's signal aborts). */
function stopRequested(signal: AbortSignal | undefined): {
  promise: Promise<string>;
  controller: AbortController;
  dispose(): void;
} {
  const controller = new AbortController();
  let resolve!: (why: string) => void;
  const promise = new Promise<string>((r) => (resolve = r));
  const onSignal = (name: NodeJS.Signals) => {
    controller.abort(new Error(`interrupted by ${name}`));
    resolve(name);
  };
  const onAbort = () => {
    controller.abort(new Error('stopped'));
    resolve('abort');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return {
    promise,
    controller,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

export async function runServe(io: CliIo, opts: ServeOptions): Promise<void> {
  const config = loadConfig(io.env);
  const logger = createLogger(io.env.LOG_LEVEL ?? config.logLevel);
  // A stop request during start-up (the demo load) is honoured once the runtime can close.
  const stop = stopRequested(io.signal);
  const rt = await openRuntime({ config, logger });
  let server: ServerHandle | undefined;
  let worker: { stop(): void; done: Promise<void> } | undefined;
  try {
    if (opts.demo) {
      const fleet = opts.demoFleet ?? DEMO_FLEET;
      const loadStarted = Date.now();
      writeLine(
        io.stderr,
        `demo: loading a simulated fleet if the database is empty (${fleet.meters} meters, ${fleet.days} days from ${fleet.start}, seed ${fleet.seed}) …`,
      );
      let report: Awaited<ReturnType<typeof loadDemoIfEmpty>>;
      try {
        report = await loadDemoIfEmpty(rt, {
          fleet,
          progress: Boolean(io.stderr.isTTY),
          signal: stop.controller.signal,
        });
      } catch (err) {
        if (!stop.controller.signal.aborted) throw err;
        writeLine(
          io.stderr,
          'demo: interrupted; the database holds part of the fleet (remove the data directory to load it again)',
        );
        return;
      }
      if (report) {
        const i = report.ingest;
        writeLine(
          io.stderr,
          `demo: loaded ${fmtInt(report.meters)} meters on ${fmtInt(report.transformers)} transformers ` +
            `from ${report.start}: ${fmtInt(i?.accepted ?? 0)} readings accepted, ` +
            `${fmtInt(i?.unchanged ?? 0)} unchanged, ${fmtInt(i?.changed ?? 0)} changed, ` +
            `${fmtInt(i?.rejected ?? 0)} rejected in ${((Date.now() - loadStarted) / 1000).toFixed(1)} s`,
        );
      } else writeLine(io.stderr, 'demo: the database already has meters; nothing loaded');
    }
    if (stop.controller.signal.aborted) return;
    // Loaded here, not at the top: the GraphQL stack takes a second to load that the other
    // commands should not pay.
    const { startServer } = await import('../server');
    server = await startServer(rt, {
      port: opts.port ?? config.port,
      host: opts.host ?? config.host,
    });
    writeLine(io.stdout, `meterdata is serving GraphQL at ${server.url}`);
    const { developmentNotice } = await import('../auth/dev');
    const notice = await developmentNotice(config, server.url);
    if (notice) writeLine(io.stdout, notice);
    if (opts.worker !== false) {
      const concurrency = opts.workerConcurrency ?? 1;
      const w = new IngestWorker(rt.db.pool, rt.queue, logger.child({ component: 'worker' }), {
        ...configuredWorkerOptions(config),
        name: `serve:${process.pid}`,
        concurrency,
        blockMs: 500,
      });
      worker = {
        stop: () => w.stop(),
        done: w.run().catch((err) => logger.error({ err }, 'the ingest worker stopped')),
      };
      writeLine(
        io.stdout,
        `an ingest worker processes landed files here (concurrency ${concurrency}; --no-worker to leave them to \`meterdata worker\`)`,
      );
    }
    if (opts.demo) {
      const p = await demoPointers(rt);
      if (p) {
        io.stdout.write(
          `\nOpen ${server.url} in a browser and try:\n\n${exampleOperations(p).join('\n\n')}\n\n`,
        );
      }
    }
    writeLine(io.stdout, 'Press Ctrl+C to stop.');
    io.onListening?.(server.url);
    const why = await stop.promise;
    logger.info({ reason: why }, 'shutting down');
  } finally {
    stop.dispose();
    try {
      // The worker first: it finishes its chunks in flight while the database is still open.
      worker?.stop();
      await worker?.done;
      await server?.close();
    } finally {
      await rt.close();
    }
  }
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError('expected a port number 0–65535');
  }
  return n;
}

export function registerServe(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description(
      'serve the GraphQL API and process landed files (embedded database under ./data unless DATABASE_URL)',
    )
    .option('--port <port>', 'port to listen on (default PORT or 4000; 0 = any free port)', port)
    .option('--host <host>', 'address to bind (default HOST or 127.0.0.1)')
    .option(
      '--demo',
      `on an empty database, first load a simulated fleet (${DEMO_FLEET.meters} meters, ${DEMO_FLEET.days} days from ${DEMO_FLEET.start.slice(0, 10)}, seed ${DEMO_FLEET.seed}) and print example operations`,
    )
    .option('--no-worker', 'do not process landed files here (leave them to `meterdata worker`)')
    .option(
      '--worker-concurrency <n>',
      'chunks the in-process ingest worker has in flight at once',
      positiveInt,
      1,
    )
    .action(
      async (o: {
        port?: number;
        host?: string;
        demo?: boolean;
        worker: boolean;
        workerConcurrency: number;
      }) => {
        await runServe(io, o);
      },
    );
}
