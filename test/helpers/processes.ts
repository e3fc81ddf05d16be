/**
 * Real processes for the fault tests: the built `meterdata` CLI as child processes, and a
 * PostgreSQL cluster and Redis server of the test's own (through .ci/services.sh) that the
 * test may kill and restart on the same data directory and port.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

/** Resolves once `check` returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${opts.timeoutMs ?? 30_000} ms waiting for ${what}` +
          (lastError ? ` (last error: ${String(lastError)})` : ''),
      );
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function run(
  file: string,
  args: string[],
  opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd: opts.cwd ?? ROOT,
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 16 << 20,
        env: opts.env ?? process.env,
      },
      (err, stdout, stderr) => {
        if (err) {
          reject(
            new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`, {
              cause: err,
            }),
          );
        } else resolve({ stdout, stderr });
      },
    );
  });
}

/** Calls one function of .ci/services.sh (bash) and returns its stdout, trimmed. */
async function services(fn: string, ...args: string[]): Promise<string> {
  const script = `source "${ROOT}/.ci/services.sh" && ${fn} "$@"`;
  const { stdout } = await run('bash', ['-c', script, fn, ...args]);
  return stdout.trim();
}

/** A temporary directory the `postgres` OS user can traverse (services.sh runs it as that user). */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

export interface PostgresServer {
  dir: string;
  url: string;
  port: number;
  /** starts the cluster again on the same data directory and port */
  start(): Promise<void>;
  /** `pg_ctl -m immediate stop`: a crash, as far as the data files are concerned */
  kill(): Promise<void>;
  /** fast shutdown (the normal end of a test) */
  stop(): Promise<void>;
}

export async function startPostgres(dir: string): Promise<PostgresServer> {
  const url = (await services('md_start_postgres', dir)).split('\n').pop()!;
  const port = Number(new URL(url).port);
  const bin = await services('md_find_pg_bin');
  return {
    dir,
    url,
    port,
    async start() {
      await services('md_start_postgres', dir, String(port));
    },
    async kill() {
      const data = path.join(dir, 'data');
      const pgCtl = [path.join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'];
      // As root the cluster runs as the owner of its data directory (services.sh does the same).
      if (process.getuid?.() === 0) {
        const owner = (await run('stat', ['-c', '%U', data])).stdout.trim();
        await run('runuser', ['-u', owner, '--', ...pgCtl], { cwd: '/' });
      } else {
        await run(pgCtl[0]!, pgCtl.slice(1), { cwd: '/' });
      }
    },
    async stop() {
      await services('md_stop_postgres', dir);
    },
  };
}

export interface RedisServer {
  dir: string;
  url: string;
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** whether it answers PING */
  running(): Promise<boolean>;
  /** runs redis-cli against the server and returns its output */
  cli(...args: string[]): Promise<string>;
}

export async function startRedis(dir: string): Promise<RedisServer> {
  const url = (await services('md_start_redis', dir)).split('\n').pop()!;
  const port = Number(new URL(url).port);
  const cli = async (...args: string[]) =>
    (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout;
  return {
    dir,
    url,
    port,
    async start() {
      await services('md_start_redis', dir, String(port));
    },
    async stop() {
      await services('md_stop_redis', dir);
    },
    async running() {
      return (await cli('PING').catch(() => '')).trim() === 'PONG';
    },
    cli,
  };
}

// ---------------------------------------------------------------------------------------------
// The CLI

/** Whether every source under src/ has emitted output at least as new as itself. */
function distIsCurrent(dir = path.join(ROOT, 'src')): boolean {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const src = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!distIsCurrent(src)) return false;
      continue;
    }
    if (!/\.(ts|json)$/.test(e.name) || e.name.endsWith('.d.ts')) continue;
    const out = path.join(ROOT, 'dist', path.relative(ROOT, src).replace(/\.ts$/, '.js'));
    if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs) return false;
  }
  return true;
}

/**
 * `npm run build` (tsc -p tsconfig.build.json) unless dist/ is already current, serialised
 * across Jest workers by a lock directory, so no process starts from half-written output.
 */
export async function buildCli(): Promise<void> {
  const lock = path.join(os.tmpdir(), `meterdata-build-${Buffer.from(ROOT).toString('hex')}.lock`);
  await waitFor(
    'the build lock',
    () => {
      try {
        fs.mkdirSync(lock);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // A lock left by a killed run is stale after a few minutes.
        if (Date.now() - fs.statSync(lock).mtimeMs > 180_000) fs.rmSync(lock, { recursive: true });
        return false;
      }
    },
    { timeoutMs: 300_000, intervalMs: 250 },
  );
  try {
    if (distIsCurrent()) return;
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    try {
      await run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { timeoutMs: 300_000 });
    } catch (err) {
      // Exit status 2 is tsc's "diagnostics present, outputs generated": type errors are the
      // typecheck stage's to report; these tests need the emitted JavaScript only.
      const status = ((err as Error).cause as { code?: unknown } | undefined)?.code;
      if (status !== 2 || !fs.existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'worker.js'))) {
        throw err;
      }
    }
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

export interface CliProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** everything written to stdout and stderr so far (the last 256 KiB) */
  output(): string;
  /** resolves with the exit code (or the signal) once the process has ended */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
}

const live = new Set<CliProcess>();

export function spawnCli(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  // Jest's flags are not the CLI's.
  delete childEnv.NODE_OPTIONS;
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'meterdata.js'), ...args], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const append = (b: Buffer) => {
    out += b.toString();
    if (out.length > 256 << 10) out = out.slice(-(256 << 10));
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      ended = true;
      resolve({ code, signal });
    });
  });
  const p: CliProcess = {
    pid: child.pid!,
    child,
    output: () => out,
    exited,
    running: () => !ended,
  };
  live.add(p);
  void exited.then(() => live.delete(p));
  return p;
}

/** SIGTERM (or the given signal), then SIGKILL if it has not ended within `graceMs`. */
export async function stopCli(
  p: CliProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 15_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (p.running()) p.child.kill(signal);
  const timer = setTimeout(() => p.running() && p.child.kill('SIGKILL'), graceMs);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Kills every CLI process this test file started that is still running (for afterAll). */
export async function killAllCli(): Promise<void> {
  await Promise.all([...live].map((p) => stopCli(p, 'SIGKILL', 5_000)));
}

/** The exit of a process expected to end on its own; fails (with its output) after `timeoutMs`. */
export async function waitForExit(
  p: CliProcess,
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `process ${p.pid} still running after ${timeoutMs} ms; output (tail):\n${p.output().slice(-6000)}`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
