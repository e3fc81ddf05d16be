/**
 * The benchmark's own Redis, started and stopped with md_start_redis / md_stop_redis of
 * .ci/services.sh (persistence off, loopback only), for the head-end ingestion section.
 */
import fs from 'node:fs';
import path from 'node:path';
import { onCleanup, runOk, spawnSync } from './children';
import { log } from './util';

export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  url: string;
  port: number;
  dir: string;
  version: string;
  /** FLUSHALL: a fresh database starts file ids at 1 again, so no old stream entry may remain */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

const bashFn = (script: string, fn: string) => `source ${JSON.stringify(script)} && ${fn} "$1"`;

export async function startRedis(root: string, dir: string): Promise<RedisServer> {
  const script = path.join(root, '.ci', 'services.sh');
  if (!fs.existsSync(script))
    throw new Error(`${script} not found: the harness starts Redis with it`);
  fs.mkdirSync(dir, { recursive: true });
  const stopArgs = ['-c', bashFn(script, 'md_stop_redis'), 'bash', dir];
  // Registered before the start, so a half-started server is stopped too.
  const stop = onCleanup(
    'Redis',
    async () => {
      await runOk('bash', stopArgs, { duringCleanup: true }).catch((err) =>
        log(`stopping Redis: ${err.message}`),
      );
    },
    () => {
      spawnSync('bash', stopArgs, { stdio: 'ignore' });
    },
  );
  const r = await runOk('bash', ['-c', bashFn(script, 'md_start_redis'), 'bash', dir]);
  const url = r.stdout.trim().split('\n').pop()!;
  if (!/^redis:\/\/127\.0\.0\.1:\d+$/.test(url)) {
    throw new Error(`md_start_redis printed an unexpected URL: ${JSON.stringify(r.stdout)}`);
  }
  const port = Number(url.split(':').pop());
  const cli = (...args: string[]) =>
    runOk('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
  const info = await cli('INFO', 'server');
  const version = /redis_version:(\S+)/.exec(info.stdout)?.[1] ?? 'unknown';
  return {
    url,
    port,
    dir,
    version,
    async flush() {
      const f = await cli('FLUSHALL');
      if (!/OK/.test(f.stdout)) throw new Error(`redis FLUSHALL answered ${f.stdout.trim()}`);
    },
    stop,
  };
}
