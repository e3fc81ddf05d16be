/**
 * What every command shares: injectable output streams and environment (so tests run the CLI
 * in-process), opening and always closing the runtime, and number formatting for summaries.
 */
import fs from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { loadConfig } from '../config';
import { ErrorCode, MeterdataError } from '../errors';
import { createLogger } from '../logger';
import { openRuntime, type Runtime } from '../runtime';

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** `serve` stops when this aborts (besides SIGINT / SIGTERM); for tests */
  signal?: AbortSignal;
  /** `serve` calls this once it listens; for tests */
  onListening?: (url: string) => void;
}

export function resolveIo(io: Partial<CliIo> = {}): CliIo {
  return {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    ...(io.signal ? { signal: io.signal } : {}),
    ...(io.onListening ? { onListening: io.onListening } : {}),
  };
}

/**
 * Opens the runtime (migrations applied) for one command and closes it afterwards, whatever
 * happens. One-shot commands log warnings only unless LOG_LEVEL says otherwise.
 */
export async function withRuntime<T>(
  io: CliIo,
  fn: (rt: Runtime) => Promise<T>,
  opts: { logLevel?: string; migrate?: boolean } = {},
): Promise<T> {
  const config = loadConfig(io.env);
  const logger = createLogger(io.env.LOG_LEVEL ?? opts.logLevel ?? 'warn');
  const rt = await openRuntime({ config, logger, migrate: opts.migrate });
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

export function writeLine(stream: NodeJS.WritableStream, line: string): void {
  stream.write(line.endsWith('\n') ? line : line + '\n');
}

/** 5952000 → "5,952,000" */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Rates shown to three significant figures: 237412 → "237,000". */
export function fmtRate(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '0';
  const digits = Math.floor(Math.log10(n)) + 1;
  const scale = 10 ** Math.max(0, digits - 3);
  return fmtInt(Math.round(n / scale) * scale);
}

/** A readable regular file, or NOT_FOUND naming it. */
export function requireFile(file: string): number {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new MeterdataError(ErrorCode.NOT_FOUND, `cannot read ${file}: no such file`, {
      cause: err,
    });
  }
  if (!st.isFile()) {
    throw new MeterdataError(ErrorCode.BAD_USER_INPUT, `${file} is not a regular file`);
  }
  return st.size;
}

/** A commander option parser: a whole number ≥ 1. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** A commander option parser: a whole number ≥ 0. */
export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError('expected a non-negative integer');
  }
  return n;
}
