/**
 * The ingest queue carries references to staged chunks (file id, chunk number); the payload
 * stays in PostgreSQL. Two implementations share this interface: Redis Streams with a
 * consumer group (REDIS_URL) and an in-process one over the landing tables.
 */

export interface ChunkRef {
  fileId: number;
  seq: number;
}

export interface Delivery extends ChunkRef {
  /** transport id (the Redis stream entry id; empty for the in-process queue) */
  id: string;
}

export interface JobQueue {
  readonly kind: 'redis' | 'postgres';
  /** Hands chunk references to consumers. Throws QUEUE_UNAVAILABLE when the transport is down. */
  publish(refs: readonly ChunkRef[]): Promise<void>;
  /**
   * Up to `max` deliveries for this consumer: entries abandoned by crashed consumers first
   * (idle longer than the claim timeout), then new ones, waiting up to `blockMs`.
   */
  take(consumer: string, max: number, blockMs: number): Promise<Delivery[]>;
  /** The delivery is finished (committed, or recognised as already done). */
  ack(d: Delivery): Promise<void>;
  /** Moves a poison delivery aside, with the reason, and acknowledges it. */
  deadLetter(d: Delivery, reason: string): Promise<void>;
  close(): Promise<void>;
}
