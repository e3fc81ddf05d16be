/**
 * Redis Streams transport: one stream of chunk references, one consumer group of workers.
 * Entries are acknowledged (XACK, then XDEL) only after the chunk committed in PostgreSQL;
 * entries of a crashed consumer are reclaimed with XAUTOCLAIM once idle; poison entries go to
 * a dead-letter stream with their reason.
 */
import { Redis } from 'ioredis';
import { ErrorCode, MeterdataError } from '../../errors';
import { type ChunkRef, type Delivery, type JobQueue } from './types';

export interface RedisQueueOptions {
  url: string;
  stream?: string;
  group?: string;
  /** an entry pending this long with a consumer is taken over by another */
  claimIdleMs?: number;
  /** called when Redis lost the stream (restarted without its data) */
  onStreamLost?: () => Promise<unknown>;
}

export class RedisQueue implements JobQueue {
  readonly kind = 'redis' as const;
  readonly stream: string;
  readonly deadStream: string;
  readonly group: string;
  private readonly claimIdleMs: number;
  private readonly cmd: Redis;
  private readonly blocking = new Map<string, Redis>();
  private groupReady: Promise<void> | null = null;

  constructor(private readonly opts: RedisQueueOptions) {
    this.stream = opts.stream ?? 'meterdata:ingest';
    this.deadStream = `${this.stream}:dead`;
    this.group = opts.group ?? 'meterdata-workers';
    this.claimIdleMs = opts.claimIdleMs ?? 30_000;
    this.cmd = this.connect();
  }

  private connect(): Redis {
    // Fail fast when Redis is down: the caller answers a retryable error instead of hanging.
    const r = new Redis(this.opts.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    r.on('error', () => {
      // reported through the failing command
    });
    return r;
  }

  private async ensureGroup(): Promise<void> {
    if (!this.groupReady) {
      this.groupReady = (async () => {
        try {
          await this.cmd.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM');
        } catch (err) {
          if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
        }
      })().catch((err) => {
        this.groupReady = null;
        throw err;
      });
    }
    return this.groupReady;
  }

  private unavailable(err: unknown): MeterdataError {
    return new MeterdataError(
      ErrorCode.QUEUE_UNAVAILABLE,
      'the ingest queue (Redis) is unavailable; the file is stored and will be queued when it returns — retry later',
      { cause: err },
    );
  }

  async publish(refs: readonly ChunkRef[]): Promise<void> {
    if (!refs.length) return;
    try {
      await this.ensureGroup();
      const p = this.cmd.pipeline();
      for (const r of refs) p.xadd(this.stream, '*', 'f', String(r.fileId), 's', String(r.seq));
      const res = await p.exec();
      const failed = res?.find(([e]) => e);
      if (failed) throw failed[0];
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  private blockingFor(consumer: string): Redis {
    let r = this.blocking.get(consumer);
    if (!r) {
      r = this.connect();
      this.blocking.set(consumer, r);
    }
    return r;
  }

  async take(consumer: string, max: number, blockMs: number): Promise<Delivery[]> {
    try {
      await this.ensureGroup();
      const claimed = (await this.cmd.xautoclaim(
        this.stream,
        this.group,
        consumer,
        this.claimIdleMs,
        '0-0',
        'COUNT',
        max,
      )) as [string, Array<[string, string[]] | null>, string[]?];
      const reclaimed = toDeliveries(claimed[1]);
      if (reclaimed.length) return reclaimed;
      const res = (await this.blockingFor(consumer).xreadgroup(
        'GROUP',
        this.group,
        consumer,
        'COUNT',
        max,
        'BLOCK',
        Math.max(1, blockMs),
        'STREAMS',
        this.stream,
        '>',
      )) as Array<[string, Array<[string, string[]]>]> | null;
      if (!res) return [];
      return toDeliveries(res[0]![1]);
    } catch (err) {
      // Redis came back without its data (no persistence): the group is created again on the
      // next take, or this consumer would get NOGROUP for ever.
      if (replyCode(err) === 'NOGROUP') {
        this.groupReady = null;
        // Its entries are gone with it: have the staged chunks published again.
        await this.opts.onStreamLost?.().catch(() => undefined);
      }
      throw this.unavailable(err);
    }
  }

  async ack(d: Delivery): Promise<void> {
    await this.cmd.multi().xack(this.stream, this.group, d.id).xdel(this.stream, d.id).exec();
  }

  async deadLetter(d: Delivery, reason: string): Promise<void> {
    await this.cmd.xadd(
      this.deadStream,
      '*',
      'f',
      String(d.fileId),
      's',
      String(d.seq),
      'reason',
      reason,
    );
    await this.ack(d);
  }

  async close(): Promise<void> {
    // A consumer lives in the group until deleted: each `ingest --wait` and worker thread would
    // leave one behind. Those with nothing pending go; one still holding entries stays, so that
    // XAUTOCLAIM can hand them to another consumer (deleting it would drop them).
    for (const consumer of this.blocking.keys()) {
      try {
        const pending = await this.cmd.xpending(this.stream, this.group, '-', '+', 1, consumer);
        if (Array.isArray(pending) && pending.length === 0) {
          await this.cmd.xgroup('DELCONSUMER', this.stream, this.group, consumer);
        }
      } catch {
        // best effort: Redis may be down at shutdown
      }
    }
    const all = [this.cmd, ...this.blocking.values()];
    this.blocking.clear();
    await Promise.all(all.map((r) => r.quit().catch(() => r.disconnect())));
  }
}

/** The error code a Redis error reply starts with (`NOGROUP`, `BUSYGROUP`, …). */
function replyCode(err: unknown): string {
  return String((err as Error | null)?.message ?? '').split(' ', 1)[0]!;
}

function toDeliveries(entries: Array<[string, string[]] | null> | undefined): Delivery[] {
  const out: Delivery[] = [];
  for (const e of entries ?? []) {
    if (!e) continue; // deleted while pending
    const [id, fields] = e;
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
    out.push({ id, fileId: Number(f.get('f')), seq: Number(f.get('s')) });
  }
  return out;
}
