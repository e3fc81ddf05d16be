/** Picks the queue: Redis Streams with REDIS_URL, otherwise the in-process queue. */
import { type ConnectionPool } from '@databases/pg';
import { unpublishPending } from '../../storage/landing';
import { PostgresQueue } from './postgres';
import { RedisQueue } from './redis';
import { type JobQueue } from './types';

export type { ChunkRef, Delivery, JobQueue } from './types';
export { PostgresQueue, RedisQueue };

export function createQueue(
  pool: ConnectionPool,
  opts: {
    redisUrl?: string | undefined;
    claimIdleMs?: number;
    leaseSeconds?: number;
    stream?: string;
  },
): JobQueue {
  if (opts.redisUrl) {
    return new RedisQueue({
      url: opts.redisUrl,
      claimIdleMs: opts.claimIdleMs,
      stream: opts.stream,
      onStreamLost: () => unpublishPending(pool),
    });
  }
  return new PostgresQueue(pool, opts.leaseSeconds);
}
