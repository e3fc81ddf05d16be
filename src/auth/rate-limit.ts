/**
 * Per-client rate limits: a token bucket per identity (or per address for requests without
 * valid credentials), in memory, per process. Full buckets are forgotten, so memory stays
 * bounded by the clients active in the last few seconds.
 */
export interface RateLimitOptions {
  /** tokens added per second; 0 turns limiting off */
  perSecond: number;
  /** bucket capacity: the burst a quiet client may send at once */
  burst: number;
  now?: () => number;
  /** buckets kept before full ones are swept */
  sweepAt?: number;
}

export type Take = { ok: true } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly burst: number;
  private readonly now: () => number;
  private readonly sweepAt: number;

  constructor(opts: RateLimitOptions) {
    this.perMs = opts.perSecond / 1000;
    this.burst = Math.max(1, opts.burst);
    this.now = opts.now ?? Date.now;
    this.sweepAt = opts.sweepAt ?? 10_000;
  }

  get enabled(): boolean {
    return this.perMs > 0;
  }

  /** Takes one token from `key`'s bucket, or says how long until one is there. */
  take(key: string): Take {
    if (!this.enabled) return { ok: true };
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.sweepAt) this.sweep(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.perMs);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return {
      ok: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000)),
    };
  }

  private sweep(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= this.burst) this.buckets.delete(k);
    }
    // Still too many clients at once: drop the oldest buckets (they refill to full anyway).
    for (const k of this.buckets.keys()) {
      if (this.buckets.size < this.sweepAt) break;
      this.buckets.delete(k);
    }
  }
}
