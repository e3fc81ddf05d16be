/** The queue under test: Redis Streams when REDIS_URL is set (a stream of its own), else in-process. */
import crypto from 'node:crypto';
import { type ConnectionPool } from '@databases/pg';
import { createQueue, type JobQueue } from '../../src/ingest/queue';

export const usingRedis = Boolean(process.env.REDIS_URL);

export function testQueue(
  pool: ConnectionPool,
  opts: { claimIdleMs?: number; leaseSeconds?: number } = {},
): JobQueue {
  return createQueue(pool, {
    redisUrl: process.env.REDIS_URL,
    stream: `md-test:${crypto.randomBytes(6).toString('hex')}`,
    claimIdleMs: opts.claimIdleMs ?? 300,
    leaseSeconds: opts.leaseSeconds ?? 1,
  });
}
