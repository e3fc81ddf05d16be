/**
 * The topology: look-ups by code and the parent/child edges, all through the request's
 * loaders — which hold a customer to the part of the tree above their own meters, at every
 * node (a customer's transformer lists their meters, not the neighbours').
 */
import { Arg, Authorized, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { within } from '../auth/access';
import { Allow } from '../auth/roles';
import { type CodeTable, type Context } from '../context';
import {
  listSubstations,
  type FeederRecord,
  type ServicePointRecord,
  type SubstationRecord,
  type TransformerRecord,
} from '../storage/topology';
import { Meter } from '../schema/meter.type';
import { Account, Feeder, ServicePoint, Substation, Transformer } from '../schema/topology.type';
import { must } from './util';

async function byCode<T>(
  ctx: Context,
  table: CodeTable,
  code: string,
  load: (id: number) => Promise<T | null>,
): Promise<T | null> {
  const id = await ctx.loaders.idByCode.load(`${table}:${code}`);
  return id === null ? null : load(id);
}

@Resolver()
export class TopologyQueryResolver {
  @Authorized(Allow.topology)
  @Query(() => [Substation])
  async substations(@Ctx() ctx: Context): Promise<SubstationRecord[]> {
    const [all, scope] = await Promise.all([listSubstations(ctx.pool), ctx.access.scope()]);
    const rows = within(
      scope,
      all,
      (s) => s.substationIds,
      (r) => r.id,
    );
    for (const r of rows) ctx.loaders.substation.prime(r.id, r);
    return rows;
  }

  @Authorized(Allow.topology)
  @Query(() => Substation, { nullable: true })
  substation(@Arg('code') code: string, @Ctx() ctx: Context) {
    return byCode(ctx, 'substation', code, (id) => ctx.loaders.substation.load(id));
  }

  @Authorized(Allow.topology)
  @Query(() => Feeder, { nullable: true })
  feeder(@Arg('code') code: string, @Ctx() ctx: Context) {
    return byCode(ctx, 'feeder', code, (id) => ctx.loaders.feeder.load(id));
  }

  @Authorized(Allow.topology)
  @Query(() => Transformer, { nullable: true })
  transformer(@Arg('code') code: string, @Ctx() ctx: Context) {
    return byCode(ctx, 'transformer', code, (id) => ctx.loaders.transformer.load(id));
  }

  @Authorized(Allow.topology)
  @Query(() => ServicePoint, { nullable: true })
  servicePoint(@Arg('code') code: string, @Ctx() ctx: Context) {
    return byCode(ctx, 'service_point', code, (id) => ctx.loaders.servicePoint.load(id));
  }
}

@Resolver(() => Substation)
export class SubstationResolver {
  @Authorized(Allow.topology)
  @FieldResolver(() => [Feeder])
  feeders(@Root() s: SubstationRecord, @Ctx() ctx: Context) {
    return ctx.loaders.feedersBySubstation.load(s.id);
  }
}

@Resolver(() => Feeder)
export class FeederResolver {
  @Authorized(Allow.topology)
  @FieldResolver(() => Substation)
  async substation(@Root() f: FeederRecord, @Ctx() ctx: Context) {
    return must(await ctx.loaders.substation.load(f.substationId), `substation ${f.substationId}`);
  }

  @Authorized(Allow.topology)
  @FieldResolver(() => [Transformer])
  transformers(@Root() f: FeederRecord, @Ctx() ctx: Context) {
    return ctx.loaders.transformersByFeeder.load(f.id);
  }
}

@Resolver(() => Transformer)
export class TransformerResolver {
  @Authorized(Allow.topology)
  @FieldResolver(() => Feeder)
  async feeder(@Root() t: TransformerRecord, @Ctx() ctx: Context) {
    return must(await ctx.loaders.feeder.load(t.feederId), `feeder ${t.feederId}`);
  }

  @Authorized(Allow.topology)
  @FieldResolver(() => [ServicePoint])
  servicePoints(@Root() t: TransformerRecord, @Ctx() ctx: Context) {
    return ctx.loaders.servicePointsByTransformer.load(t.id);
  }

  @Authorized(Allow.topology)
  @FieldResolver(() => [Meter])
  meters(@Root() t: TransformerRecord, @Ctx() ctx: Context) {
    return ctx.loaders.metersByTransformer.load(t.id);
  }
}

@Resolver(() => ServicePoint)
export class ServicePointResolver {
  @Authorized(Allow.topology)
  @FieldResolver(() => Transformer)
  async transformer(@Root() sp: ServicePointRecord, @Ctx() ctx: Context) {
    return must(
      await ctx.loaders.transformer.load(sp.transformerId),
      `transformer ${sp.transformerId}`,
    );
  }

  @Authorized(Allow.accounts)
  @FieldResolver(() => Account, { nullable: true })
  account(@Root() sp: ServicePointRecord, @Ctx() ctx: Context) {
    return sp.accountId === null ? null : ctx.loaders.account.load(sp.accountId);
  }

  @Authorized(Allow.topology)
  @FieldResolver(() => [Meter])
  meters(@Root() sp: ServicePointRecord, @Ctx() ctx: Context) {
    return ctx.loaders.metersByServicePoint.load(sp.id);
  }
}
