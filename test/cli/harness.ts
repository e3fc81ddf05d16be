/**
 * Runs the CLI in-process against its own database: embedded PGlite under a temporary data
 * directory, or a fresh database on the server named by DATABASE_URL (dropped at cleanup),
 * and with REDIS_URL a Redis database of its own. Output is captured through injected
 * streams; nothing touches process.env.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import createConnectionPool, { sql, type ConnectionPool } from '@databases/pg';
import { Redis } from 'ioredis';
import { main } from '../../src/cli/main';
import { openDatabase } from '../../src/storage/db';

export class Capture extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  error: (Error & { code?: string; exitCode?: number }) | undefined;
}

export interface CliSandbox {
  dir: string;
  env: NodeJS.ProcessEnv;
  run(...args: string[]): Promise<CliResult>;
  /** `run` with stdout and stderr claiming to be terminals */
  runTty(...args: string[]): Promise<CliResult>;
  file(name: string, content: string | Buffer): string;
  /** opens the sandbox's database between CLI runs (PGlite files allow one opener at a time) */
  withDb<T>(fn: (pool: ConnectionPool) => Promise<T>): Promise<T>;
  cleanup(): Promise<void>;
}

export async function cliSandbox(): Promise<CliSandbox> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterdata-cli-'));
  const env: NodeJS.ProcessEnv = { ...process.env, MD_DATA_DIR: path.join(dir, 'data') };
  env.LOG_LEVEL = 'silent';
  let drop: (() => Promise<void>) | undefined;
  if (process.env.DATABASE_URL) {
    const name = `md_test_${crypto.randomBytes(6).toString('hex')}`;
    const admin = createConnectionPool({
      connectionString: process.env.DATABASE_URL,
      poolSize: 1,
      bigIntMode: 'number',
    });
    await admin.query(sql`CREATE DATABASE ${sql.ident(name)}`);
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    drop = async () => {
      await admin.query(sql`DROP DATABASE IF EXISTS ${sql.ident(name)} WITH (FORCE)`);
      await admin.dispose();
    };
  } else {
    delete env.DATABASE_URL;
  }
  let flushRedis: (() => Promise<void>) | undefined;
  if (process.env.REDIS_URL) {
    // Every CLI run uses the same stream name, and test files run in parallel: without a
    // database of its own, one sandbox's worker would take another's chunk references.
    // Databases 1-15 are handed out in turn (0 is the default others use).
    const counter = new Redis(process.env.REDIS_URL, { lazyConnect: true });
    const n = await counter.incr('md-test:cli-sandbox');
    await counter.quit();
    const url = new URL(process.env.REDIS_URL);
    url.pathname = `/${1 + (n % 15)}`;
    env.REDIS_URL = url.toString();
    flushRedis = async () => {
      const r = new Redis(url.toString(), { lazyConnect: true });
      await r.flushdb();
      await r.quit();
    };
  } else {
    delete env.REDIS_URL;
  }
  const run = async (tty: boolean, args: string[]): Promise<CliResult> => {
    const stdout = new Capture();
    const stderr = new Capture();
    stdout.isTTY = stderr.isTTY = tty;
    let code = 0;
    let error: CliResult['error'];
    try {
      await main(['node', 'meterdata', ...args], { stdout, stderr, env });
    } catch (err) {
      error = err as CliResult['error'];
      code = typeof error?.exitCode === 'number' ? error.exitCode : 1;
    }
    return { code, stdout: stdout.text, stderr: stderr.text, error };
  };
  return {
    dir,
    env,
    run: (...args: string[]) => run(false, args),
    runTty: (...args: string[]) => run(true, args),
    file(name: string, content: string | Buffer): string {
      const p = path.join(dir, name);
      fs.writeFileSync(p, content);
      return p;
    },
    async withDb<T>(fn: (pool: ConnectionPool) => Promise<T>): Promise<T> {
      const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.MD_DATA_DIR });
      try {
        return await fn(db.pool);
      } finally {
        await db.close();
      }
    },
    async cleanup() {
      await flushRedis?.();
      await drop?.();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
