/**
 * The in-process queue (no REDIS_URL): pending chunks in ingest_chunk are the queue, and a
 * lease stands in for the consumer group. A worker that dies leaves its lease to expire and
 * the chunk is taken again; nothing acknowledged lives anywhere but PostgreSQL.
 */
import { type ConnectionPool } from '@databases/pg';
import { leasePendingChunks, markPublished } from '../../storage/landing';
import { type ChunkRef, type Delivery, type JobQueue } from './types';

export class PostgresQueue implements JobQueue {
  readonly kind = 'postgres' as const;
  private closed = false;

  constructor(
    private readonly pool: ConnectionPool,
    private readonly leaseSeconds = 60,
  ) {}

  async publish(refs: readonly ChunkRef[]): Promise<void> {
    await markPublished(this.pool, refs);
  }

  async take(_consumer: string, max: number, blockMs: number): Promise<Delivery[]> {
    const deadline = Date.now() + blockMs;
    for (;;) {
      const refs = await leasePendingChunks(this.pool, max, this.leaseSeconds);
      if (refs.length || this.closed || Date.now() >= deadline) {
        return refs.map((r) => ({ ...r, id: '' }));
      }
      await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, deadline - Date.now()))));
    }
  }

  async ack(): Promise<void> {
    // The chunk's status changed in the transaction that committed it.
  }

  async deadLetter(): Promise<void> {
    // markChunkDead already set the chunk and its file aside in PostgreSQL.
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
