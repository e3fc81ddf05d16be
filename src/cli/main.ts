/**
 * The `meterdata` command. `main` never exits the process: it throws a CliError whose message
 * is the one line to print (`<CODE>: <message>`) and whose exitCode bin/meterdata.js uses,
 * so tests run it in-process with their own output streams and environment.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { loadConfig } from '../config';
import { isMeterdataError } from '../errors';
import { createLogger } from '../logger';
import { openRuntime } from '../runtime';
import { migrate } from '../storage/migrate';
import { packageRoot } from '../storage/paths';
import { simulateDeps } from './demo';
import { registerIngest } from './ingest';
import { type CliIo, resolveIo, withRuntime, writeLine } from './io';
import { registerKeys } from './keys';
import { registerReadings } from './readings';
import { registerServe } from './serve';
import { registerSimulate } from './simulate';
import { registerTopology } from './topology';
import { registerWorker } from './worker';

export type { CliIo };

/** What a failed command leaves behind: the line to print and the exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  /** the MeterdataError code, or USAGE for command-line mistakes */
  readonly code: string;
  constructor(message: string, exitCode: number, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.code = code;
  }
}

function version(): string {
  try {
    const pj = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8'));
    return String(pj.version);
  } catch {
    return '0.0.0';
  }
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('meterdata');
  program
    .description('GraphQL data platform for smart-meter interval data')
    .version(version())
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // The error line itself is printed once, by whoever catches the CliError.
      outputError: () => {},
    });

  registerServe(program, io);
  registerWorker(
    program,
    () =>
      openRuntime({
        config: loadConfig(io.env),
        logger: createLogger(io.env.LOG_LEVEL ?? 'info'),
      }),
    io,
  );

  program
    .command('migrate')
    .description('apply pending database migrations and list them')
    .action(async () => {
      await withRuntime(
        io,
        async (rt) => {
          const r = await migrate(rt.db.pool);
          for (const name of r.applied) writeLine(io.stdout, `applied ${name}`);
          writeLine(
            io.stdout,
            r.applied.length
              ? `${r.applied.length} migration${r.applied.length === 1 ? '' : 's'} applied (${r.alreadyApplied} already)`
              : `the database is up to date (${r.alreadyApplied} migrations)`,
          );
        },
        { migrate: false },
      );
    });

  registerTopology(program, io);
  registerIngest(program, io);
  registerReadings(program, io);
  registerKeys(program, io);

  registerSimulate(program, async () => {
    // The runtime lives as long as the simulate run: SimulateDeps.close releases it.
    const rt = await openRuntime({
      config: loadConfig(io.env),
      logger: createLogger(io.env.LOG_LEVEL ?? 'warn'),
    });
    return { ...simulateDeps(rt, { progress: Boolean(io.stderr.isTTY) }), close: () => rt.close() };
  });

  return program;
}

/**
 * Runs the command line (`argv` as in process.argv: node, script, arguments…). Resolves when
 * the command is done; rejects with a CliError carrying the message and exit code.
 */
export async function main(argv: string[], ioIn: Partial<CliIo> = {}): Promise<void> {
  const io = resolveIo(ioIn);
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'node' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return; // --help, --version
      // Usage mistakes exit 2 (the shell convention); the help shown for a bare `meterdata`
      // has already been written.
      const message =
        err.code === 'commander.help'
          ? 'a command is required'
          : `${err.message.replace(/^error: /, '')} (see meterdata --help)`;
      throw new CliError(message, 2, 'USAGE', { cause: err });
    }
    if (isMeterdataError(err)) {
      throw new CliError(`${err.code}: ${err.message}`, 1, err.code, { cause: err });
    }
    throw err;
  }
}
