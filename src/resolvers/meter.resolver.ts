/**
 * Meters: look-up by id or serial, the filtered and paged list, and a meter's topology edges.
 * A customer sees their own meters only: the loaders return null for the others, the list is
 * cut to their accounts.
 */
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { Allow } from '../auth/roles';
import { type Context, primeMeters } from '../context';
import { ErrorCode, MeterdataError } from '../errors';
import { type MeterFilter, listMeters, type MeterRecord } from '../storage/topology';
import { MeterFilterInput } from '../schema/meter.input';
import { Meter } from '../schema/meter.type';
import { MeterConnection } from '../schema/paging';
import { Account, ServicePoint, Transformer } from '../schema/topology.type';
import { decodeCursor, encodeCursor, must, parseId } from './util';

export const MAX_PAGE = 1000;

@Resolver(() => Meter)
export class MeterResolver {
  @Authorized(Allow.topology)
  @Query(() => Meter, {
    nullable: true,
    description:
      'A meter by id or by serial (exactly one of them); null when there is none (or when it is not the calling customer’s).',
  })
  async meter(
    @Arg('id', () => ID, { nullable: true }) id: string | null | undefined,
    @Arg('serial', () => String, { nullable: true }) serial: string | null | undefined,
    @Ctx() ctx: Context,
  ): Promise<MeterRecord | null> {
    const hasId = id !== null && id !== undefined;
    const hasSerial = serial !== null && serial !== undefined;
    if (hasId === hasSerial) {
      throw new MeterdataError(
        ErrorCode.BAD_USER_INPUT,
        'give exactly one of meter(id:) and meter(serial:)',
      );
    }
    if (hasSerial) return ctx.loaders.meterBySerial.load(serial);
    const n = parseId(id!);
    return n === undefined ? null : ctx.loaders.meterById.load(n);
  }

  @Authorized(Allow.topology)
  @Query(() => MeterConnection, {
    description: `Meters ordered by id, filtered, in pages of \`first\` (at most ${MAX_PAGE}) after an opaque cursor.`,
  })
  async meters(
    @Arg('filter', () => MeterFilterInput, { nullable: true }) filter: MeterFilterInput | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) firstArg: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: Context,
  ): Promise<MeterConnection> {
    const first = firstArg ?? 50;
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) {
      throw new MeterdataError(
        ErrorCode.BAD_USER_INPUT,
        `first must be between 0 and ${MAX_PAGE} (got ${first}); page with pageInfo.endCursor`,
      );
    }
    const afterId = after === null || after === undefined ? null : decodeCursor(after);
    const [where, scope] = await Promise.all([storageFilter(filter, ctx), ctx.access.scope()]);
    // A customer's list holds the meters of their accounts only.
    if (scope) where.accountIds = [...scope.accountIds];
    const page = await listMeters(ctx.pool, where, first, afterId);
    primeMeters(ctx, page.meters);
    const edges = page.meters.map((m) => ({ cursor: encodeCursor(m.id), node: m }));
    return {
      edges,
      nodes: page.meters,
      pageInfo: {
        hasNextPage: page.hasNextPage,
        endCursor: edges.length ? edges[edges.length - 1]!.cursor : null,
      },
      totalCount: page.totalCount,
    };
  }

  @Authorized(Allow.topology)
  @FieldResolver(() => ServicePoint)
  async servicePoint(@Root() m: MeterRecord, @Ctx() ctx: Context) {
    return must(
      await ctx.loaders.servicePoint.load(m.servicePointId),
      `service point ${m.servicePointId}`,
    );
  }

  @Authorized(Allow.topology)
  @FieldResolver(() => Transformer)
  async transformer(@Root() m: MeterRecord, @Ctx() ctx: Context) {
    return must(
      await ctx.loaders.transformer.load(m.transformerId),
      `transformer ${m.transformerId}`,
    );
  }

  @Authorized(Allow.accounts)
  @FieldResolver(() => Account, { nullable: true })
  async account(@Root() m: MeterRecord, @Ctx() ctx: Context) {
    const sp = await ctx.loaders.servicePoint.load(m.servicePointId);
    return sp?.accountId ? ctx.loaders.account.load(sp.accountId) : null;
  }
}

/** Codes of the filter → ids; an unknown code matches nothing (an empty id list). */
async function storageFilter(f: MeterFilterInput | null, ctx: Context): Promise<MeterFilter> {
  if (!f) return {};
  const ids = async (table: 'substation' | 'feeder' | 'transformer', codes: string[]) => {
    const found = await Promise.all(codes.map((c) => ctx.loaders.idByCode.load(`${table}:${c}`)));
    return found.filter((x): x is number => x !== null);
  };
  const codes = (one: string | null | undefined, many: string[] | null | undefined) =>
    one === null || one === undefined ? (many ?? null) : [one, ...(many ?? [])];
  const tx = codes(f.transformerCode, f.transformerCodes);
  const fd = codes(f.feederCode, f.feederCodes);
  const sub = codes(f.substationCode, null);
  const [transformerIds, feederIds, substationIds] = await Promise.all([
    tx ? ids('transformer', tx) : null,
    fd ? ids('feeder', fd) : null,
    sub ? ids('substation', sub) : null,
  ]);
  return {
    transformerIds,
    feederIds,
    substationIds,
    statuses: f.status ? [f.status] : null,
    commPaths: f.commPath ? [f.commPath] : null,
  };
}
