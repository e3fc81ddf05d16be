/**
 * Reading queries. A series is one storage query (the meter's day rows over the range) laid out
 * as plain arrays; a transformer's series one query for all its meters; an instant one query
 * for all meters at one interval. Ranges are checked, then snapped outward to the interval grid.
 * An individual meter's values are for billing, operators, admins and the meter's own customer;
 * planners and customers get aggregates as totals under the privacy rule (./aggregate.ts).
 */
import { Arg, Authorized, Ctx, FieldResolver, Int, Query, Resolver, Root } from 'type-graphql';
import { isPrivileged } from '../auth/identity';
import { Allow } from '../auth/roles';
import { type Channel, channelCode } from '../domain/channel';
import { type DayRow } from '../domain/readings';
import {
  buildSeries,
  type Resolution,
  rollup,
  type Series,
  seriesProvenance,
  seriesTotal,
} from '../domain/series';
import { type Context } from '../context';
import { ErrorCode, MeterdataError } from '../errors';
import {
  batchesByIds,
  readDays,
  readDaysForMeters,
  readHistory,
  readInstantScope,
} from '../storage/readings';
import { type MeterRecord, type TransformerRecord } from '../storage/topology';
import { ChannelEnum, ResolutionEnum } from '../schema/enums';
import { Meter } from '../schema/meter.type';
import { DateTimeScalar } from '../schema/scalars';
import {
  InstantSnapshot,
  Reading,
  ReadingSeries,
  ReadingVersion,
  TransformerSeries,
  UsageSeries,
} from '../schema/series.type';
import { Transformer } from '../schema/topology.type';
import { type GroupRef, groupInstant, groupSeries } from './aggregate';
import { isIntervalLength, readingWindow, type Window } from './util';

/** Optional with a default, as `channel: Channel = DELIVERED` (an explicit null means the default). */
const CHANNEL_ARG = { nullable: true, defaultValue: ChannelEnum.DELIVERED } as const;

const rangeLimit = (ctx: Context) => ({
  maxDays: ctx.config.maxRangeDays,
  setting: 'MD_MAX_RANGE_DAYS',
});

const SNAP_NOTE =
  '`from` and `to` are instants; when they are not on the interval grid, `from` is moved down and `to` up to it.';

function rangeWindow(meter: MeterRecord, from: Date, to: Date, ctx: Context): Window {
  return readingWindow(from, to, meter.intervalSeconds, rangeLimit(ctx));
}

function requireChannel(meter: MeterRecord, channel: Channel): void {
  if (!meter.channels.includes(channel)) {
    throw new MeterdataError(
      ErrorCode.UNKNOWN_CHANNEL,
      `meter ${meter.serial} has no channel ${channel} (it has ${meter.channels.join(', ')})`,
    );
  }
}

async function meterSeries(meter: MeterRecord, channel: Channel, w: Window, ctx: Context) {
  const rows = await readDays(ctx.pool, meter.id, channelCode(channel), w.fromDay, w.toDay);
  return buildSeries(rows, w.fromMs, w.toMs, meter.intervalSeconds);
}

function toReadingSeries(meterId: number, channel: Channel, s: Series): ReadingSeries {
  let count = 0;
  let total: number | null = null;
  for (const v of s.values) {
    if (v === null) continue;
    count++;
    total = (total ?? 0) + v;
  }
  return {
    meterId,
    channel,
    start: new Date(s.start),
    end: new Date(s.start + s.values.length * s.intervalSeconds * 1000),
    intervalSeconds: s.intervalSeconds,
    count,
    missing: s.values.length - count,
    total,
    values: s.values,
    quality: s.quality,
  };
}

@Resolver(() => Meter)
export class MeterReadingsResolver {
  @Authorized(Allow.meterReadings)
  @FieldResolver(() => ReadingSeries, {
    description: `Interval values of one channel over [from, to) as columns (one query; the fast path). ${SNAP_NOTE} At most MD_MAX_RANGE_DAYS (default 400) days.`,
  })
  async series(
    @Root() meter: MeterRecord,
    @Arg('from', () => DateTimeScalar) from: Date,
    @Arg('to', () => DateTimeScalar) to: Date,
    @Arg('channel', () => ChannelEnum, CHANNEL_ARG) channelArg: Channel | null,
    @Ctx() ctx: Context,
  ): Promise<ReadingSeries> {
    const channel = channelArg ?? ChannelEnum.DELIVERED;
    await ctx.access.assertMeterReadable(meter.id, meter.serial);
    const w = rangeWindow(meter, from, to, ctx);
    requireChannel(meter, channel);
    return toReadingSeries(meter.id, channel, await meterSeries(meter, channel, w, ctx));
  }

  @Authorized(Allow.meterReadings)
  @FieldResolver(() => [Reading], {
    description: `One object per interval over [from, to), missing ones included. ${SNAP_NOTE} For small ranges only: at most MD_MAX_INTERVAL_ITEMS_DAYS (default 7) days; use series for more.`,
  })
  async intervals(
    @Root() meter: MeterRecord,
    @Arg('from', () => DateTimeScalar) from: Date,
    @Arg('to', () => DateTimeScalar) to: Date,
    @Arg('channel', () => ChannelEnum, CHANNEL_ARG) channelArg: Channel | null,
    @Ctx() ctx: Context,
  ): Promise<Reading[]> {
    const channel = channelArg ?? ChannelEnum.DELIVERED;
    await ctx.access.assertMeterReadable(meter.id, meter.serial);
    const w = readingWindow(from, to, meter.intervalSeconds, {
      maxDays: ctx.config.maxIntervalItemsDays,
      setting: 'MD_MAX_INTERVAL_ITEMS_DAYS',
      hint: 'use series for longer ranges',
    });
    requireChannel(meter, channel);
    const rows = await readDays(ctx.pool, meter.id, channelCode(channel), w.fromDay, w.toDay);
    const s = buildSeries(rows, w.fromMs, w.toMs, meter.intervalSeconds);
    const p = seriesProvenance(rows, w.fromMs, w.toMs, meter.intervalSeconds);
    const batches = new Map(
      (
        await batchesByIds(
          ctx.pool,
          p.batches.filter((b): b is number => b !== null),
        )
      ).map((b) => [b.id, b]),
    );
    const step = s.intervalSeconds * 1000;
    return s.values.map((value, i) => {
      const end = s.start + (i + 1) * step;
      const b = p.batches[i] === null ? undefined : batches.get(p.batches[i]!);
      return {
        start: new Date(s.start + i * step),
        end: new Date(end),
        value,
        quality: s.quality[i] ?? null,
        missing: value === null,
        version: p.versions[i] ?? null,
        batchId: b ? String(b.id) : null,
        source: b?.source ?? null,
        sourceSystem: b?.sourceSystem ?? null,
        commPath: b?.commPath ?? null,
        receivedAt: b?.receivedAt ?? null,
        lagSeconds: b ? Math.round((b.receivedAt.getTime() - end) / 1000) : null,
      };
    });
  }

  @Authorized(Allow.meterReadings)
  @FieldResolver(() => UsageSeries, {
    description: `Energy per local hour, day or month in the service point's time zone (a DST day has 23 or 25 hours). ${SNAP_NOTE} Buckets at the range edges are clipped to it.`,
  })
  async usage(
    @Root() meter: MeterRecord,
    @Arg('from', () => DateTimeScalar) from: Date,
    @Arg('to', () => DateTimeScalar) to: Date,
    @Arg('channel', () => ChannelEnum, CHANNEL_ARG) channelArg: Channel | null,
    @Arg('resolution', () => ResolutionEnum) resolution: Resolution,
    @Ctx() ctx: Context,
  ): Promise<UsageSeries> {
    const channel = channelArg ?? ChannelEnum.DELIVERED;
    await ctx.access.assertMeterReadable(meter.id, meter.serial);
    const w = rangeWindow(meter, from, to, ctx);
    requireChannel(meter, channel);
    const s = await meterSeries(meter, channel, w, ctx);
    const buckets = rollup(s, meter.timeZone, resolution).map((b) => ({
      start: new Date(b.start),
      end: new Date(b.end),
      localStart: b.localStart,
      value: b.value,
      intervals: b.count,
      expected: b.expected,
      missing: b.missing,
      estimated: b.estimated,
    }));
    return {
      meterId: meter.id,
      channel,
      resolution,
      timeZone: meter.timeZone,
      buckets,
      total: seriesTotal(buckets.map((b) => b.value)),
    };
  }

  @Authorized(Allow.meterReadings)
  @FieldResolver(() => [ReadingVersion], {
    description: `Replaced versions of the intervals starting in [from, to), oldest first. ${SNAP_NOTE}`,
  })
  async history(
    @Root() meter: MeterRecord,
    @Arg('from', () => DateTimeScalar) from: Date,
    @Arg('to', () => DateTimeScalar) to: Date,
    @Arg('channel', () => ChannelEnum, CHANNEL_ARG) channelArg: Channel | null,
    @Ctx() ctx: Context,
  ): Promise<ReadingVersion[]> {
    const channel = channelArg ?? ChannelEnum.DELIVERED;
    await ctx.access.assertMeterReadable(meter.id, meter.serial);
    const w = rangeWindow(meter, from, to, ctx);
    requireChannel(meter, channel);
    const step = meter.intervalSeconds * 1000;
    const rows = await readHistory(ctx.pool, meter.id, channelCode(channel), w.fromMs, w.toMs);
    return rows.map((h) => ({
      start: new Date(h.ts),
      end: new Date(h.ts + step),
      version: h.version,
      value: h.value,
      quality: qualityOut(h.quality),
      batchId: h.batchId,
      newValue: h.newValue,
      newQuality: qualityOut(h.newQuality),
      reason: h.reason,
      changedByBatch: h.changedByBatch,
      changedByUser: h.changedByUser,
      changedAt: h.changedAt,
    }));
  }
}

/** 255 marks "no reading" in storage and is never shown. */
function qualityOut(q: number | null): number | null {
  return q === null || q === 255 ? null : q;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

@Resolver(() => Transformer)
export class TransformerReadingsResolver {
  @Authorized(Allow.aggregates)
  @FieldResolver(() => TransformerSeries, {
    description: `The series of every meter of the transformer that has the channel (one query), and their per-interval sum. ${SNAP_NOTE} The grid is the least common multiple of the meters' interval lengths. Planners and customers get the sum only, under the privacy rule.`,
  })
  async series(
    @Root() t: TransformerRecord,
    @Arg('from', () => DateTimeScalar) from: Date,
    @Arg('to', () => DateTimeScalar) to: Date,
    @Arg('channel', () => ChannelEnum, CHANNEL_ARG) channelArg: Channel | null,
    @Ctx() ctx: Context,
  ): Promise<TransformerSeries> {
    const channel = channelArg ?? ChannelEnum.DELIVERED;
    if (!isPrivileged(ctx.identity)) {
      const g = await groupSeries(ctx, transformerGroup(t), channel, from, to);
      return { ...g, meters: null };
    }
    const meters = (await ctx.loaders.metersByTransformer.load(t.id)).filter((m) =>
      m.channels.includes(channel),
    );
    // Divisors of a day have a common multiple that divides a day too, so the grid stays
    // day-aligned.
    const intervalSeconds = meters.reduce(
      (acc, m) => (acc / gcd(acc, m.intervalSeconds)) * m.intervalSeconds,
      meters[0]?.intervalSeconds ?? 900,
    );
    const w = readingWindow(from, to, intervalSeconds, rangeLimit(ctx));
    const rows = await readDaysForMeters(
      ctx.pool,
      meters.map((m) => m.id),
      channelCode(channel),
      w.fromDay,
      w.toDay,
    );
    const byMeter = new Map<number, DayRow[]>();
    for (const r of rows) {
      let list = byMeter.get(r.meterId);
      if (!list) byMeter.set(r.meterId, (list = []));
      list.push(r);
    }
    const n = Math.round((w.toMs - w.fromMs) / (intervalSeconds * 1000));
    const total = new Array<number | null>(n).fill(null);
    const series = meters.map((m) => {
      const s = buildSeries(byMeter.get(m.id) ?? [], w.fromMs, w.toMs, m.intervalSeconds);
      const per = intervalSeconds / m.intervalSeconds;
      for (let i = 0; i < s.values.length; i++) {
        const v = s.values[i];
        if (v === null || v === undefined) continue;
        const k = Math.floor(i / per);
        total[k] = (total[k] ?? 0) + v;
      }
      return toReadingSeries(m.id, channel, s);
    });
    return {
      start: new Date(w.fromMs),
      end: new Date(w.toMs),
      intervalSeconds,
      meters: series,
      total,
      withheld: new Array<boolean>(total.length).fill(false),
    };
  }
}

@Resolver()
export class InstantResolver {
  @Authorized(Allow.aggregates)
  @Query(() => InstantSnapshot, {
    description:
      'Every meter with the given interval length (installed at `at`, with the channel; on one transformer or feeder when given) at the interval containing `at`, as columns in meter-id order. Planners and customers get the total of every meter of the group (the whole system, a feeder or a transformer) under the privacy rule; intervalSeconds must then be a multiple of every such meter’s interval length.',
  })
  async instant(
    @Arg('at', () => DateTimeScalar) at: Date,
    @Arg('channel', () => ChannelEnum, CHANNEL_ARG) channelArg: Channel | null,
    @Arg('transformerCode', () => String, { nullable: true }) transformerCode: string | null,
    @Arg('feederCode', () => String, { nullable: true }) feederCode: string | null,
    @Arg('intervalSeconds', () => Int, { nullable: true, defaultValue: 900 })
    intervalSecondsArg: number | null,
    @Ctx() ctx: Context,
  ): Promise<InstantSnapshot> {
    const intervalSeconds = intervalSecondsArg ?? 900;
    const channel = channelArg ?? ChannelEnum.DELIVERED;
    if (!isIntervalLength(intervalSeconds)) {
      throw new MeterdataError(
        ErrorCode.BAD_USER_INPUT,
        `intervalSeconds ${intervalSeconds} is not an interval length; use a whole number ≥ 60 that divides 86400 (e.g. 900)`,
      );
    }
    if (transformerCode != null && feederCode != null) {
      throw new MeterdataError(
        ErrorCode.BAD_USER_INPUT,
        'give at most one of transformerCode and feederCode',
      );
    }
    const transformerId =
      transformerCode != null ? await nodeId(ctx, 'transformer', transformerCode) : null;
    const feederId = feederCode != null ? await nodeId(ctx, 'feeder', feederCode) : null;
    const step = intervalSeconds * 1000;
    const atMs = Math.floor(at.getTime() / step) * step;
    if (!isPrivileged(ctx.identity)) {
      const group: GroupRef =
        transformerId !== null
          ? {
              level: 'transformer',
              id: transformerId,
              label: `transformer ${JSON.stringify(transformerCode)}`,
            }
          : feederId !== null
            ? { level: 'feeder', id: feederId, label: `feeder ${JSON.stringify(feederCode)}` }
            : { level: 'system', id: null, label: 'the whole system' };
      const g = await groupInstant(ctx, group, channel, atMs, intervalSeconds);
      return {
        at: new Date(atMs),
        intervalSeconds,
        channel,
        meterIds: null,
        serials: null,
        values: null,
        quality: null,
        total: g.total,
        reporting: g.reporting,
      };
    }
    const rows = await readInstantScope(ctx.pool, {
      atMs,
      channel,
      intervalSeconds,
      transformerId,
      feederId,
    });
    const values: Array<number | null> = new Array(rows.length);
    const quality: Array<number | null> = new Array(rows.length);
    let reporting = 0;
    let total: number | null = null;
    rows.forEach((r, i) => {
      values[i] = r.value;
      quality[i] = r.value === null ? null : qualityOut(r.quality!);
      if (r.value !== null) {
        reporting++;
        total = (total ?? 0) + r.value;
      }
    });
    return {
      at: new Date(atMs),
      intervalSeconds,
      channel,
      meterIds: rows.map((r) => r.meterId),
      serials: rows.map((r) => r.serial),
      values,
      quality,
      total,
      reporting,
    };
  }
}

function transformerGroup(t: TransformerRecord): GroupRef {
  return { level: 'transformer', id: t.id, label: `transformer ${JSON.stringify(t.code)}` };
}

/** A node's id by code; NOT_FOUND when there is none, or when the caller may not see it. */
async function nodeId(
  ctx: Context,
  table: 'transformer' | 'feeder',
  code: string,
): Promise<number> {
  const id = await ctx.loaders.idByCode.load(`${table}:${code}`);
  // Id 0 never exists: an unknown code costs the look-up an unseen one costs.
  const node =
    table === 'transformer'
      ? await ctx.loaders.transformer.load(id ?? 0)
      : await ctx.loaders.feeder.load(id ?? 0);
  if (id === null || node === null) {
    throw new MeterdataError(ErrorCode.NOT_FOUND, `no ${table} has code ${JSON.stringify(code)}`);
  }
  return id;
}
