/** Small checks shared by the resolvers: ranges, ids, cursors. */
import { DAY_MS } from '../domain/readings';
import { ErrorCode, MeterdataError } from '../errors';

export interface Window {
  /** requested range snapped outward to the interval grid, epoch ms */
  fromMs: number;
  toMs: number;
  /** UTC epoch days holding it */
  fromDay: number;
  toDay: number;
}

/**
 * Checks a requested [from, to) and snaps it outward to the interval grid (UTC-aligned, so a
 * day always starts on it): `from` down, `to` up.
 */
export function readingWindow(
  from: Date,
  to: Date,
  intervalSeconds: number,
  limit: { maxDays: number; setting: string; hint?: string },
): Window {
  const { maxDays, setting, hint = 'split it into several requests' } = limit;
  const f = from.getTime();
  const t = to.getTime();
  if (!(f < t)) {
    throw new MeterdataError(
      ErrorCode.INVALID_RANGE,
      `from (${from.toISOString()}) must be before to (${to.toISOString()})`,
    );
  }
  if (t - f > maxDays * DAY_MS) {
    throw new MeterdataError(
      ErrorCode.RANGE_TOO_LARGE,
      `the range of ${formatDays(t - f)} days is longer than the maximum of ${maxDays} days (${setting}); ${hint}`,
      { details: { maxDays } },
    );
  }
  const step = intervalSeconds * 1000;
  const fromMs = Math.floor(f / step) * step;
  const toMs = Math.ceil(t / step) * step;
  return {
    fromMs,
    toMs,
    fromDay: Math.floor(fromMs / DAY_MS),
    toDay: Math.floor((toMs - 1) / DAY_MS),
  };
}

function formatDays(ms: number): string {
  const d = ms / DAY_MS;
  return Number.isInteger(d) ? String(d) : d.toFixed(2);
}

export function isIntervalLength(s: number): boolean {
  return Number.isInteger(s) && s >= 60 && 86400 % s === 0;
}

/** A database id from a GraphQL ID; undefined when it cannot be one (so nothing matches). */
export function parseId(raw: string | number): number | undefined {
  const s = String(raw);
  if (!/^[1-9]\d{0,15}$/.test(s)) return undefined;
  return Number(s);
}

export function encodeCursor(id: number): string {
  return Buffer.from(String(id), 'utf8').toString('base64');
}

export function decodeCursor(cursor: string): number {
  const id = parseId(Buffer.from(cursor, 'base64').toString('utf8'));
  if (id === undefined || encodeCursor(id) !== cursor) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `cursor ${JSON.stringify(cursor)} is not one this API issued; pass pageInfo.endCursor of the previous page`,
    );
  }
  return id;
}

/** A row a foreign key guarantees; missing only if it was deleted mid-request. */
export function must<T>(v: T | null | undefined, what: string): T {
  if (v === null || v === undefined) {
    throw new MeterdataError(ErrorCode.NOT_FOUND, `${what} no longer exists; retry the request`);
  }
  return v;
}
