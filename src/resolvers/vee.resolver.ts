/**
 * VEE over GraphQL: rule sets per meter class (versioned), exceptions (list, accept, resolve),
 * re-validation, and per meter the interval flags and a per-day summary.
 */
import { GraphQLJSONObject } from 'graphql-scalars';
import { DateTime } from 'luxon';
import {
  Arg,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { type Role } from '../auth/roles';
import { type Context } from '../context';
import { type Channel, channelCode, isSubstitute, Quality } from '../domain/channel';
import { DAY_MS } from '../domain/readings';
import { buildSeries } from '../domain/series';
import { RULE_BIT, rulesOfFlags, type MeterClass, type RuleId } from '../domain/vee';
import { ErrorCode, MeterdataError } from '../errors';
import { readDays } from '../storage/readings';
import { type MeterRecord } from '../storage/topology';
import {
  type ExceptionRecord,
  currentRuleSets,
  decideException,
  flagSeries,
  listExceptions,
  localWindow,
  openExceptionsIn,
  revalidate,
  type StoredRuleSet,
  updateRuleSet,
  veeMeters,
} from '../storage/vee';
import { ChannelEnum, CustomerClassEnum } from '../schema/enums';
import { Meter } from '../schema/meter.type';
import { DateTimeScalar } from '../schema/scalars';
import {
  VeeDaySummary,
  VeeException,
  VeeExceptionConnection,
  VeeExceptionFilterInput,
  VeeRuleSet,
  VeeRunResult,
  EditReadingsInput,
  ReadingChangeResult,
} from '../schema/vee.type';
import {
  editReadings,
  estimateReadings,
  readMethods,
  type ChangeResult,
} from '../storage/vee-edit';
import { parseId, readingWindow } from './util';

/** Who reads VEE state, and who changes it. */
const VEE_READ: Role[] = ['billing', 'operator', 'admin'];
const VEE_WRITE: Role[] = ['operator', 'admin'];
const CHANNEL_ARG = { nullable: true, defaultValue: ChannelEnum.DELIVERED } as const;

/** The user recorded on changes: the caller's subject, else 'operator'. */
export function userOf(ctx: Context): string {
  const s = ctx.identity?.subject;
  return s && s !== 'anonymous' ? s : 'operator';
}

function toRuleSet(s: StoredRuleSet): VeeRuleSet {
  return {
    meterClass: s.ruleSet.meterClass,
    version: s.ruleSet.version,
    name: s.ruleSet.name,
    ruleSet: s.ruleSet as unknown as Record<string, unknown>,
    createdBy: s.createdBy,
    createdAt: s.createdAt,
  };
}

function toException(e: ExceptionRecord): VeeException {
  return { ...e, id: String(e.id) };
}

function encodeAfter(e: ExceptionRecord): string {
  return Buffer.from(`${e.from.getTime()}:${e.id}`).toString('base64url');
}

function decodeAfter(cursor: string): { fromMs: number; id: number } {
  const m = /^(-?\d+):(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m)
    throw new MeterdataError(ErrorCode.BAD_USER_INPUT, `invalid cursor ${JSON.stringify(cursor)}`);
  return { fromMs: Number(m[1]), id: Number(m[2]) };
}

function exceptionId(raw: string): number {
  const id = parseId(raw);
  if (id === undefined) throw new MeterdataError(ErrorCode.NOT_FOUND, `no VEE exception ${raw}`);
  return id;
}

@Resolver()
export class VeeResolver {
  @Authorized(...VEE_READ)
  @Query(() => [VeeRuleSet], { description: 'The current VEE rule set of every meter class.' })
  async veeRuleSets(@Ctx() ctx: Context): Promise<VeeRuleSet[]> {
    const sets = await currentRuleSets(ctx.pool);
    return Object.values(sets).map(toRuleSet);
  }

  @Authorized(...VEE_READ)
  @Query(() => VeeRuleSet, { description: 'The current VEE rule set of a meter class.' })
  async veeRuleSet(
    @Arg('meterClass', () => CustomerClassEnum) meterClass: MeterClass,
    @Ctx() ctx: Context,
  ): Promise<VeeRuleSet> {
    return toRuleSet((await currentRuleSets(ctx.pool))[meterClass]);
  }

  @Authorized(...VEE_WRITE)
  @Mutation(() => VeeRuleSet, {
    description:
      'Stores a new version of a class rule set (rules and parameters left out take the defaults). BAD_USER_INPUT with `problems` when invalid. Workers pick it up within seconds; run `revalidate` to apply it to stored data.',
  })
  async updateVeeRuleSet(
    @Arg('meterClass', () => CustomerClassEnum) meterClass: MeterClass,
    @Arg('ruleSet', () => GraphQLJSONObject) ruleSet: Record<string, unknown>,
    @Ctx() ctx: Context,
  ): Promise<VeeRuleSet> {
    return toRuleSet(await updateRuleSet(ctx.pool, meterClass, ruleSet, userOf(ctx)));
  }

  @Authorized(...VEE_READ)
  @Query(() => VeeExceptionConnection, {
    description: 'VEE exceptions, latest range first, paged by `after` (pageInfo.endCursor).',
  })
  async veeExceptions(
    @Arg('filter', () => VeeExceptionFilterInput, { nullable: true })
    filter: VeeExceptionFilterInput | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) firstArg: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: Context,
  ): Promise<VeeExceptionConnection> {
    const first = firstArg ?? 50;
    if (first < 1 || first > 1000) {
      throw new MeterdataError(ErrorCode.BAD_USER_INPUT, 'first must be between 1 and 1000');
    }
    const rows = await listExceptions(ctx.pool, filter ?? {}, {
      first: first + 1,
      after: after ? decodeAfter(after) : null,
    });
    const page = rows.slice(0, first);
    const last = page[page.length - 1];
    return {
      nodes: page.map(toException),
      pageInfo: { hasNextPage: rows.length > first, endCursor: last ? encodeAfter(last) : null },
    };
  }

  @Authorized(...VEE_WRITE)
  @Mutation(() => VeeException, {
    description: 'The data is right as it is: closes the exception.',
  })
  async acceptVeeException(
    @Arg('id', () => ID) id: string,
    @Arg('note', () => String, { nullable: true }) note: string | null,
    @Ctx() ctx: Context,
  ): Promise<VeeException> {
    return toException(
      await decideException(ctx.pool, exceptionId(id), 'accepted', userOf(ctx), note),
    );
  }

  @Authorized(...VEE_WRITE)
  @Mutation(() => VeeException, { description: 'The data was fixed: closes the exception.' })
  async resolveVeeException(
    @Arg('id', () => ID) id: string,
    @Arg('note', () => String, { nullable: true }) note: string | null,
    @Ctx() ctx: Context,
  ): Promise<VeeException> {
    return toException(
      await decideException(ctx.pool, exceptionId(id), 'resolved', userOf(ctx), note),
    );
  }

  @Authorized(...VEE_WRITE)
  @Mutation(() => VeeRunResult, {
    description:
      'Runs the current rule sets again over [from, to) (whole local days) of one meter or of all meters (`all: true`). Idempotent.',
  })
  async revalidate(
    @Arg('meterSerial', () => String, { nullable: true }) meterSerial: string | null,
    @Arg('all', () => Boolean, { nullable: true }) all: boolean | null,
    @Arg('from', () => DateTimeScalar) from: Date,
    @Arg('to', () => DateTimeScalar) to: Date,
    @Ctx() ctx: Context,
  ): Promise<VeeRunResult> {
    if (Boolean(meterSerial) === Boolean(all)) {
      throw new MeterdataError(ErrorCode.BAD_USER_INPUT, 'pass either meterSerial or all: true');
    }
    const w = readingWindow(from, to, 60, {
      maxDays: ctx.config.maxRangeDays,
      setting: 'MD_MAX_RANGE_DAYS',
    });
    let ids: number[] | null = null;
    if (meterSerial) {
      const meter = await ctx.loaders.meterBySerial.load(meterSerial);
      if (!meter) {
        throw new MeterdataError(
          ErrorCode.UNKNOWN_METER,
          `unknown meter ${JSON.stringify(meterSerial)}`,
        );
      }
      ids = [meter.id];
    }
    return revalidate(ctx.pool, ids, w.fromMs, w.toMs, Date.now());
  }
}

async function veeMeterOf(ctx: Context, serial: string) {
  const meter = await ctx.loaders.meterBySerial.load(serial);
  const info = meter ? (await veeMeters(ctx.pool, [meter.id])).get(meter.id) : undefined;
  if (!meter || !info) {
    throw new MeterdataError(ErrorCode.UNKNOWN_METER, `unknown meter ${JSON.stringify(serial)}`);
  }
  return { meter, info };
}

function toChange(r: ChangeResult): ReadingChangeResult {
  return { ...r, auditId: String(r.auditId) };
}

@Resolver()
export class VeeEditResolver {
  @Authorized(...VEE_WRITE)
  @Mutation(() => ReadingChangeResult, {
    description:
      'Fills the missing (and failed-validation) intervals of [from, to) by estimation (like days from stored validated history, interpolation of short gaps): quality 8, 9 or 11, the method per interval, history reason revee, audited. A later actual value replaces an estimate (history reason late_actual).',
  })
  async estimateReadings(
    @Arg('meterSerial') meterSerial: string,
    @Arg('channel', () => ChannelEnum, CHANNEL_ARG) channelArg: Channel | null,
    @Arg('from', () => DateTimeScalar) from: Date,
    @Arg('to', () => DateTimeScalar) to: Date,
    @Ctx() ctx: Context,
  ): Promise<ReadingChangeResult> {
    const { meter, info } = await veeMeterOf(ctx, meterSerial);
    const w = readingWindow(from, to, meter.intervalSeconds, {
      maxDays: 62,
      setting: 'the estimation limit',
    });
    return toChange(
      await estimateReadings(
        ctx.pool,
        info,
        channelArg ?? ChannelEnum.DELIVERED,
        w.fromMs,
        w.toMs,
        userOf(ctx),
      ),
    );
  }

  @Authorized(...VEE_WRITE)
  @Mutation(() => ReadingChangeResult, {
    description:
      'Sets the intervals of [from, to) to given values or by a method: quality 7 (manually edited), history reason edit with the user, audited with the reason.',
  })
  async editReadings(
    @Arg('input', () => EditReadingsInput) input: EditReadingsInput,
    @Ctx() ctx: Context,
  ): Promise<ReadingChangeResult> {
    const { meter, info } = await veeMeterOf(ctx, input.meterSerial);
    const w = readingWindow(input.from, input.to, meter.intervalSeconds, {
      maxDays: 62,
      setting: 'the edit limit',
    });
    return toChange(
      await editReadings(
        ctx.pool,
        info,
        input.channel ?? ChannelEnum.DELIVERED,
        w.fromMs,
        w.toMs,
        input,
        userOf(ctx),
      ),
    );
  }
}

async function meterFlags(
  meter: MeterRecord,
  channel: Channel,
  from: Date,
  to: Date,
  ctx: Context,
) {
  if (!meter.channels.includes(channel)) {
    throw new MeterdataError(
      ErrorCode.UNKNOWN_CHANNEL,
      `meter ${meter.serial} has no channel ${channel} (it has ${meter.channels.join(', ')})`,
    );
  }
  return readingWindow(from, to, meter.intervalSeconds, {
    maxDays: ctx.config.maxRangeDays,
    setting: 'MD_MAX_RANGE_DAYS',
  });
}

@Resolver(() => Meter)
export class MeterVeeResolver {
  @Authorized(...VEE_READ)
  @FieldResolver(() => [[String]], {
    description:
      'Per interval over [from, to) (aligned with series.values), the VEE rules that failed on it; empty when none.',
  })
  async veeFlags(
    @Root() meter: MeterRecord,
    @Arg('from', () => DateTimeScalar) from: Date,
    @Arg('to', () => DateTimeScalar) to: Date,
    @Arg('channel', () => ChannelEnum, CHANNEL_ARG) channelArg: Channel | null,
    @Ctx() ctx: Context,
  ): Promise<string[][]> {
    const channel = channelArg ?? ChannelEnum.DELIVERED;
    await ctx.access.assertMeterReadable(meter.id, meter.serial);
    const w = await meterFlags(meter, channel, from, to, ctx);
    const rows = await readDays(ctx.pool, meter.id, channelCode(channel), w.fromDay, w.toDay);
    const flags = flagSeries(rows, w.fromMs, w.toMs, meter.intervalSeconds);
    const cache = new Map<number, RuleId[]>();
    return Array.from(flags, (f) => {
      let r = cache.get(f);
      if (!r) cache.set(f, (r = rulesOfFlags(f)));
      return r;
    });
  }

  @Authorized(...VEE_READ)
  @FieldResolver(() => [String], {
    nullable: 'items',
    description:
      'Per interval over [from, to) (aligned with series.values), how an estimated value was estimated (linear, flat, like_day, proration, outage_zero); null for other intervals.',
  })
  async estimationMethods(
    @Root() meter: MeterRecord,
    @Arg('from', () => DateTimeScalar) from: Date,
    @Arg('to', () => DateTimeScalar) to: Date,
    @Arg('channel', () => ChannelEnum, CHANNEL_ARG) channelArg: Channel | null,
    @Ctx() ctx: Context,
  ): Promise<Array<string | null>> {
    const channel = channelArg ?? ChannelEnum.DELIVERED;
    await ctx.access.assertMeterReadable(meter.id, meter.serial);
    const w = await meterFlags(meter, channel, from, to, ctx);
    return readMethods(
      ctx.pool,
      meter.id,
      channelCode(channel),
      w.fromMs,
      w.toMs,
      meter.intervalSeconds,
    );
  }

  @Authorized(...VEE_READ)
  @FieldResolver(() => [VeeDaySummary], {
    description:
      'Per local day (service point time zone) covering [from, to): interval counts by VEE state and open exceptions. Failed = quality 10 or flagged by a rule whose current severity is error.',
  })
  async veeSummary(
    @Root() meter: MeterRecord,
    @Arg('from', () => DateTimeScalar) from: Date,
    @Arg('to', () => DateTimeScalar) to: Date,
    @Arg('channel', () => ChannelEnum, CHANNEL_ARG) channelArg: Channel | null,
    @Ctx() ctx: Context,
  ): Promise<VeeDaySummary[]> {
    const channel = channelArg ?? ChannelEnum.DELIVERED;
    await ctx.access.assertMeterReadable(meter.id, meter.serial);
    await meterFlags(meter, channel, from, to, ctx);
    const local = localWindow(from.getTime(), to.getTime(), meter.timeZone);
    const code = channelCode(channel);
    const rows = await readDays(
      ctx.pool,
      meter.id,
      code,
      Math.floor(local.fromMs / DAY_MS),
      Math.floor((local.toMs - 1) / DAY_MS),
    );
    const s = buildSeries(rows, local.fromMs, local.toMs, meter.intervalSeconds);
    const flags = flagSeries(rows, local.fromMs, local.toMs, meter.intervalSeconds);
    const [info] = (await veeMeters(ctx.pool, [meter.id])).values();
    const ruleSet = (await currentRuleSets(ctx.pool))[info?.meterClass ?? 'RESIDENTIAL'].ruleSet;
    let errorMask = 0;
    for (const [id, cfg] of Object.entries(ruleSet.rules)) {
      if (cfg.enabled && cfg.severity === 'error') errorMask |= RULE_BIT[id as RuleId];
    }
    const open = await openExceptionsIn(ctx.pool, meter.id, code, local.fromMs, local.toMs);
    const step = meter.intervalSeconds * 1000;
    const out: VeeDaySummary[] = [];
    let day = DateTime.fromMillis(local.fromMs, { zone: meter.timeZone });
    while (day.toMillis() < local.toMs) {
      const next = day.plus({ days: 1 });
      const a = (day.toMillis() - local.fromMs) / step;
      const b = (next.toMillis() - local.fromMs) / step;
      const sum: VeeDaySummary = {
        date: day.toISODate()!,
        valid: 0,
        estimated: 0,
        edited: 0,
        failed: 0,
        missing: 0,
        openExceptions: open.filter((e) => e.to > day.toMillis() && e.from < next.toMillis())
          .length,
      };
      for (let i = a; i < b; i++) {
        const q = s.quality[i];
        if (s.values[i] === null || q === null || q === undefined) sum.missing++;
        else if (q === Quality.MANUALLY_EDITED) sum.edited++;
        else if (isSubstitute(q)) sum.estimated++;
        else if (q === Quality.FAILED_VALIDATION || (flags[i]! & errorMask) !== 0) sum.failed++;
        else sum.valid++;
      }
      out.push(sum);
      day = next;
    }
    return out;
  }
}
