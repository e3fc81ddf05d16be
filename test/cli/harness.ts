/**
 * Runs the CLI in-process against its own database: embedded PGlite under a temporary data
 * directory, or a fresh database on the server named by DATABASE_URL (dropped at cleanup).
 * Output is captured through injected streams; nothing touches process.env.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import createConnectionPool, { sql, type ConnectionPool } from '@databases/pg';
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
      await drop?.();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
