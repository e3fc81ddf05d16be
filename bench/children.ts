/**
 * Every process the harness starts is registered here, so it is stopped on every exit path:
 * normal end, error (try/finally in run.ts), SIGINT/SIGTERM, and as a last resort
 * synchronously from the 'exit' event.
 */
import { type ChildProcess, spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import { log } from './util';

interface Cleanup {
  name: string;
  /** asynchronous, graceful */
  run: () => Promise<void>;
  /** synchronous fallback for process 'exit' */
  runSync: () => void;
  done: boolean;
}

const cleanups: Cleanup[] = [];
let installed = false;
let interrupted: NodeJS.Signals | null = null;

/** Throws once a signal has asked the harness to stop, so no new step or process starts. */
export function checkInterrupted(): void {
  if (interrupted) throw new Error(`interrupted by ${interrupted}`);
}

/** Registers a cleanup; returns a function that runs it now (once) and unregisters it. */
export function onCleanup(
  name: string,
  run: () => Promise<void>,
  runSync: () => void,
): () => Promise<void> {
  installHandlers();
  const c: Cleanup = { name, run, runSync, done: false };
  cleanups.push(c);
  return async () => {
    if (c.done) return;
    c.done = true;
    const i = cleanups.indexOf(c);
    if (i >= 0) cleanups.splice(i, 1);
    await run();
  };
}

/** Runs every pending cleanup, newest first; errors are logged, never thrown. */
export async function cleanupAll(): Promise<void> {
  while (cleanups.length) {
    const c = cleanups.pop()!;
    if (c.done) continue;
    c.done = true;
    try {
      await c.run();
    } catch (err) {
      log(`cleanup of ${c.name} failed: ${(err as Error).message}`);
    }
  }
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    interrupted = sig;
    log(`${sig}: stopping everything the benchmark started`);
    void cleanupAll().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', () => {
    for (const c of cleanups.splice(0).reverse()) {
      if (c.done) continue;
      c.done = true;
      try {
        c.runSync();
      } catch {
        // best effort at exit
      }
    }
  });
}

export interface Service {
  name: string;
  child: ChildProcess;
  stop(): Promise<void>;
  /** resolves with the exit code when the process ends */
  exited: Promise<number | null>;
}

/**
 * Starts a long-running child process (a server) with its output appended to `logFile`;
 * stop() sends SIGTERM, then SIGKILL after `killAfterMs`.
 */
export function startService(
  name: string,
  command: string,
  args: readonly string[],
  opts: SpawnOptions & { logFile: string; killAfterMs?: number },
): Service {
  checkInterrupted();
  const out = fs.openSync(opts.logFile, 'a');
  const child = spawn(command, args, { ...opts, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : null)));
    child.on('error', () => resolve(-1));
  });
  const stop = onCleanup(
    name,
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs ?? 10_000);
      await exited;
      clearTimeout(timer);
      log(`${name} stopped`);
    },
    () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  );
  return { name, child, stop, exited };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion (registered for cleanup while it runs), capturing its output. */
export function run(
  command: string,
  args: readonly string[],
  opts: SpawnOptions & { input?: string; duringCleanup?: boolean } = {},
): Promise<RunResult> {
  if (!opts.duringCleanup) checkInterrupted();
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { ...opts, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => stdout.push(b));
    child.stderr!.on('data', (b: Buffer) => stderr.push(b));
    // A child that exits at once (a crash at start-up) closes its stdin first: EPIPE here must
    // not end the harness; the exit code tells what happened.
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
    // A command run by a cleanup is not itself registered (cleanupAll would stop it).
    const register = opts.duringCleanup ? (_n: string, f: () => Promise<void>) => f : onCleanup;
    const finish = register(
      `${command} ${args[0] ?? ''}`,
      async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      },
      () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      },
    );
    child.on('error', (err) => {
      void finish();
      reject(err);
    });
    child.on('close', (code, signal) => {
      void finish();
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      });
    });
  });
}

/** As run(), but throws with the command's stderr when it exits non-zero. */
export async function runOk(
  command: string,
  args: readonly string[],
  opts: SpawnOptions & { input?: string; duringCleanup?: boolean } = {},
): Promise<RunResult> {
  const r = await run(command, args, opts);
  if (r.code !== 0) {
    const lines = (r.stderr || r.stdout).trim().split('\n');
    const gist = lines.find((l) => /error/i.test(l)) ?? lines[lines.length - 1] ?? '';
    const shown = args.map((a) => (a.length > 80 ? `${a.slice(0, 77)}…` : a)).join(' ');
    throw new Error(
      `${command} ${shown} exited with ${r.code}: ${gist.trim()}\n${lines.slice(-20).join('\n')}`,
    );
  }
  return r;
}

export { spawnSync };
