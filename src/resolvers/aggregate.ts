/**
 * Aggregates for callers who may not see individual meters (planners, customers): totals of
 * fixed topology groups only, released under the privacy rule (src/auth/privacy.ts). Every
 * meter of the group with the channel counts, whatever its interval length, so two requests
 * over one group always cover the same meters.
 */
import { AccessCode, accessError } from '../auth/errors';
import { type GroupNode, type PrivacyRule, releaseAggregate, ruleText } from '../auth/privacy';
import { type Context } from '../context';
import { type Channel, channelCode } from '../domain/channel';
import { DAY_MS } from '../domain/readings';
import { buildSeries } from '../domain/series';
import { ErrorCode, MeterdataError } from '../errors';
import {
  daySlotSums,
  type GroupLevel,
  type GroupMember,
  groupMembers,
} from '../storage/aggregates';
import { readDaysForMeters } from '../storage/readings';
import { readingWindow } from './util';

export interface GroupRef {
  level: GroupLevel;
  id: number | null;
  /** how the group is named in messages, e.g. `transformer "TX-1"` */
  label: string;
}

export function privacyRule(ctx: Context): PrivacyRule {
  return {
    minCustomers: ctx.config.aggregateMinCustomers,
    maxSharePercent: ctx.config.aggregateMaxSharePercent,
  };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export function lcmOf(intervals: readonly number[], fallback: number): number {
  return intervals.reduce((acc, s) => (acc / gcd(acc, s)) * s, intervals[0] ?? fallback);
}

/** The group's tree (root = the group) with each meter (by index) under its transformer. */
function groupTree(level: GroupLevel, members: readonly GroupMember[]): GroupNode {
  type Mutable = {
    key: string;
    children: Mutable[];
    meters: number[];
    byKey: Map<string, Mutable>;
  };
  const node = (key: string): Mutable => ({ key, children: [], meters: [], byKey: new Map() });
  const child = (parent: Mutable, key: string) => {
    let c = parent.byKey.get(key);
    if (!c) parent.children.push((c = node(key)));
    parent.byKey.set(key, c);
    return c;
  };
  const root = node(level);
  members.forEach((m, i) => {
    let n = root;
    if (level === 'system') n = child(n, `substation:${m.substationId}`);
    if (level === 'system' || level === 'substation') n = child(n, `feeder:${m.feederId}`);
    if (level !== 'transformer') n = child(n, `transformer:${m.transformerId}`);
    n.meters.push(i);
  });
  return root;
}

function withheldError(group: GroupRef, rule: PrivacyRule, reasons: readonly string[]) {
  return accessError(
    AccessCode.AGGREGATE_WITHHELD,
    `the aggregate of ${group.label} is withheld by the privacy rule (${ruleText(rule)})${reasons.length ? `: ${reasons.join('; ')}` : ''}`,
    {
      details: {
        minCustomers: rule.minCustomers,
        maxSharePercent: rule.maxSharePercent,
      },
    },
  );
}

/**
 * The group's total at one slot of `slotSeconds` starting at `atMs` (on the grid); throws
 * AGGREGATE_WITHHELD when the rule withholds it.
 */
export async function groupInstant(
  ctx: Context,
  group: GroupRef,
  channel: Channel,
  atMs: number,
  slotSeconds: number,
): Promise<{ total: number | null; reporting: number }> {
  const rule = privacyRule(ctx);
  const members = await groupMembers(ctx.pool, group, channel);
  const installed = members.filter(
    (m) => m.installedMs <= atMs && (m.removedMs === null || m.removedMs > atMs),
  );
  const lcm = lcmOf(
    installed.map((m) => m.intervalSeconds),
    slotSeconds,
  );
  if (slotSeconds % lcm !== 0) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `an aggregate covers every meter of ${group.label}, whose interval lengths need intervalSeconds to be a multiple of ${lcm}`,
      { details: { intervalSeconds: lcm } },
    );
  }
  const day = Math.floor(atMs / DAY_MS);
  const sums = await daySlotSums(
    ctx.pool,
    members.map((m) => m.meterId),
    channelCode(channel),
    day,
    (atMs - day * DAY_MS) / 1000,
    slotSeconds,
  );
  const index = new Map(members.map((m, i) => [m.meterId, i]));
  const daySums = new Array<number | null>(members.length).fill(null);
  const complete = new Array<boolean>(members.length).fill(false);
  const slotSums = new Array<number | null>(members.length).fill(null);
  for (const s of sums) {
    const i = index.get(s.meterId)!;
    daySums[i] = s.day;
    complete[i] = s.complete;
    slotSums[i] = s.slot;
  }
  const r = releaseAggregate({
    root: groupTree(group.level, members),
    customers: members.map((m) => m.customer),
    periods: new Map([[day, { sums: daySums, complete }]]),
    slots: [{ period: day, values: slotSums }],
    rule,
  });
  if (r.withheld[0]) throw withheldError(group, rule, r.reasons);
  return { total: r.total[0] ?? null, reporting: r.reporting[0] ?? 0 };
}

/**
 * The group's per-interval totals over [from, to) on the least common multiple of its meters'
 * interval lengths: totals the rule withholds are null and flagged; AGGREGATE_WITHHELD when
 * it withholds every interval that had readings.
 */
export async function groupSeries(
  ctx: Context,
  group: GroupRef,
  channel: Channel,
  from: Date,
  to: Date,
): Promise<{
  start: Date;
  end: Date;
  intervalSeconds: number;
  total: Array<number | null>;
  withheld: boolean[];
}> {
  const rule = privacyRule(ctx);
  const members = await groupMembers(ctx.pool, group, channel);
  const grid = lcmOf(
    members.map((m) => m.intervalSeconds),
    900,
  );
  const w = readingWindow(from, to, grid, {
    maxDays: ctx.config.maxRangeDays,
    setting: 'MD_MAX_RANGE_DAYS',
  });
  const rows = await readDaysForMeters(
    ctx.pool,
    members.map((m) => m.meterId),
    channelCode(channel),
    w.fromDay,
    w.toDay,
  );
  const byMeter = new Map<number, typeof rows>();
  for (const r of rows) {
    let list = byMeter.get(r.meterId);
    if (!list) byMeter.set(r.meterId, (list = []));
    list.push(r);
  }
  // Whole days are evaluated (the rule's period); the requested slots are a window of them.
  const evalFrom = w.fromDay * DAY_MS;
  const evalTo = (w.toDay + 1) * DAY_MS;
  const step = grid * 1000;
  const perDay = DAY_MS / step;
  const nSlots = (evalTo - evalFrom) / step;
  const days = w.toDay - w.fromDay + 1;
  const periods = new Map<number, { sums: Array<number | null>; complete: boolean[] }>();
  for (let d = w.fromDay; d <= w.toDay; d++) {
    periods.set(d, {
      sums: new Array<number | null>(members.length).fill(null),
      complete: new Array<boolean>(members.length).fill(false),
    });
  }
  // Each meter on its own grid (for the day totals and completeness), then on the group's.
  const binned = members.map((m, mi) => {
    const s = buildSeries(byMeter.get(m.meterId) ?? [], evalFrom, evalTo, m.intervalSeconds);
    const ownPerDay = s.values.length / days;
    for (let d = 0; d < days; d++) {
      const p = periods.get(w.fromDay + d)!;
      let sum: number | null = null;
      let present = 0;
      for (let i = d * ownPerDay; i < (d + 1) * ownPerDay; i++) {
        const v = s.values[i];
        if (v === null || v === undefined) continue;
        sum = (sum ?? 0) + v;
        present++;
      }
      p.sums[mi] = sum;
      p.complete[mi] = present === ownPerDay;
    }
    const per = grid / m.intervalSeconds;
    const out = new Array<number | null>(nSlots).fill(null);
    s.values.forEach((v, i) => {
      if (v === null) return;
      const k = Math.floor(i / per);
      out[k] = (out[k] ?? 0) + v;
    });
    return out;
  });
  const fromSlot = (w.fromMs - evalFrom) / step;
  const toSlot = (w.toMs - evalFrom) / step;
  const slots = [];
  for (let k = fromSlot; k < toSlot; k++) {
    slots.push({
      period: w.fromDay + Math.floor(k / perDay),
      values: binned.map((b) => b[k] ?? null),
    });
  }
  const r = releaseAggregate({
    root: groupTree(group.level, members),
    customers: members.map((m) => m.customer),
    periods,
    slots,
    rule,
  });
  if (r.withheld.some(Boolean) && r.total.every((t) => t === null)) {
    throw withheldError(group, rule, r.reasons);
  }
  return {
    start: new Date(w.fromMs),
    end: new Date(w.toMs),
    intervalSeconds: grid,
    total: r.total,
    withheld: r.withheld,
  };
}
