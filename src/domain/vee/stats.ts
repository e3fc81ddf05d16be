/** Small numeric helpers shared by the rules and the estimators. */

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return xs.length ? s / xs.length : NaN;
}

/** Sample standard deviation (n − 1); 0 for fewer than two values. */
export function sampleSd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}

/** Quantile by linear interpolation between order statistics (R's type 7) of sorted values. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Maximal runs [from, to) of consecutive indexes in [0, n) where `test` holds. */
export function runsWhere(n: number, test: (i: number) => boolean): Array<[number, number]> {
  return runsWhereIn(n, test, callTest);
}

function callTest(test: (i: number) => boolean, i: number): boolean {
  return test(i);
}

/**
 * runsWhere with a predicate that takes its data as an argument: a module-level predicate is
 * compiled once, where a closure made at each call was compiled again and again.
 */
export function runsWhereIn<C>(
  n: number,
  c: C,
  test: (c: C, i: number) => boolean,
): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  let startRun = -1;
  for (let i = 0; i < n; i++) {
    if (test(c, i)) {
      if (startRun < 0) startRun = i;
    } else if (startRun >= 0) {
      runs.push([startRun, i]);
      startRun = -1;
    }
  }
  if (startRun >= 0) runs.push([startRun, n]);
  return runs;
}

export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}

/** Rounds for messages and data (not for computation). */
export function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
