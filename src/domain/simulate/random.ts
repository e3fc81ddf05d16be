/**
 * A small, fast, seedable PRNG (sfc32) plus the distributions the simulator needs.
 *
 * Streams are derived with {@link Rng.derive} from a seed and any number of keys (numbers or
 * strings), so that e.g. meter 17's load does not depend on how many random numbers meter 16
 * consumed, or on the order meters are generated in.
 */

// Bound once: global lookups are slow inside vm contexts (e.g. under Jest).
const { PI, cos, exp, floor, imul, log, max, round, sin, sqrt } = Math;

/** 32-bit finalizer (murmur3 fmix32). */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Stable 32-bit hash of a sequence of numbers and strings. */
export function hash32(...parts: ReadonlyArray<number | string>): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    if (typeof part === 'number') {
      // Mix both 32-bit halves so that non-negative integers up to 2^53 hash distinctly.
      const lo = part >>> 0;
      const hi = floor(part / 4294967296) >>> 0;
      h = fmix32(h ^ imul(lo, 0xcc9e2d51)) + 0x6b43a9b5;
      h = fmix32(h ^ imul(hi, 0x1b873593)) + 0x3c6ef372;
    } else {
      h = fmix32(h ^ 0x5bd1e995) + part.length;
      for (let i = 0; i < part.length; i++) {
        h = imul(h ^ part.charCodeAt(i), 0x01000193);
      }
      h = fmix32(h);
    }
    h >>>= 0;
  }
  return fmix32(h);
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  constructor(seed: number) {
    // splitmix32 expansion of the seed into the 128-bit sfc32 state
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      return fmix32(s);
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = 1;
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** An independent stream for (seed, ...keys). */
  static derive(seed: number, ...keys: ReadonlyArray<number | string>): Rng {
    return new Rng(hash32(seed, ...keys));
  }

  /** Uniform 32-bit unsigned integer. */
  uint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[floor(this.next() * items.length)] as T;
  }

  /** Pick by relative weight. */
  weighted<T>(items: ReadonlyArray<readonly [T, number]>): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let r = this.next() * total;
    for (const [item, w] of items) {
      r -= w;
      if (r < 0) return item;
    }
    const last = items[items.length - 1];
    if (!last) throw new Error('weighted pick from an empty list');
    return last[0];
  }

  /** Normal deviate (Box–Muller, the second value of each pair is cached). */
  normal(mean = 0, sd = 1): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return mean + sd * z;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = sqrt(-2 * log(u));
    this.spare = r * sin(2 * PI * v);
    return mean + sd * r * cos(2 * PI * v);
  }

  /** Log-normal deviate with the given median and log-space standard deviation. */
  lognormal(median: number, sigma: number): number {
    return median * exp(sigma * this.normal());
  }

  /** Poisson deviate (Knuth for small means, normal approximation for large ones). */
  poisson(lambda: number): number {
    if (!(lambda > 0)) return 0;
    if (lambda > 30) return max(0, round(this.normal(lambda, sqrt(lambda))));
    const limit = exp(-lambda);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }
}

/** A deterministic UUID-shaped identifier (version nibble 5, RFC 4122 variant) for the keys. */
export function deterministicUuid(seed: number, ...keys: ReadonlyArray<number | string>): string {
  const rng = Rng.derive(seed, 'uuid', ...keys);
  const hex = [rng.uint32(), rng.uint32(), rng.uint32(), rng.uint32()]
    .map((w) => w.toString(16).padStart(8, '0'))
    .join('');
  const variant = ((parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    '5' + hex.slice(13, 16),
    variant + hex.slice(17, 20),
    hex.slice(20, 32),
  ].join('-');
}
