/** Write mutations (topology upsert, reading batches) and the readingsIngested subscription. */
import { Arg, Authorized, Ctx, Mutation, Resolver, Root, Subscription } from 'type-graphql';
import { Allow } from '../auth/roles';
import { type TopologyDoc } from '../domain/topology';
import { type Context } from '../context';
import { ErrorCode, MeterdataError } from '../errors';
import { ingestItems } from '../ingest/readings';
import { importTopology } from '../ingest/topology';
import { IngestReadingsInput } from '../schema/ingest.input';
import { IngestBatchEvent, IngestResultType, TopologyResult } from '../schema/ingest.type';
import { TopologyInput } from '../schema/topology.input';
import { Topic } from './pubsub';

@Resolver()
export class IngestResolver {
  @Authorized(Allow.manage)
  @Mutation(() => TopologyResult, {
    description:
      'Inserts or updates topology rows by code (serial for meters). Parents may be in the same input or already stored. An invalid input writes nothing; the error lists every problem in extensions.problems.',
  })
  async upsertTopology(
    @Arg('input', () => TopologyInput) input: TopologyInput,
    @Ctx() ctx: Context,
  ): Promise<TopologyResult> {
    return importTopology(ctx.pool, topologyDoc(input));
  }

  @Authorized(Allow.ingest)
  @Mutation(() => IngestResultType, {
    description:
      'Stores a batch of interval readings. Bad readings are rejected one by one (with a code) and the rest stored; resending the same readings changes nothing; a changed value keeps the old one in history.',
  })
  async ingestReadings(
    @Arg('input', () => IngestReadingsInput) input: IngestReadingsInput,
    @Ctx() ctx: Context,
  ): Promise<IngestResultType> {
    const max = ctx.config.maxMutationBatch;
    if (input.readings.length > max) {
      throw new MeterdataError(
        ErrorCode.BATCH_TOO_LARGE,
        `the batch holds ${input.readings.length} readings, more than the maximum of ${max} (MD_MAX_MUTATION_BATCH); split it into smaller batches (nothing was stored)`,
        { details: { maxBatch: max } },
      );
    }
    const source = input.source ?? 'graphql';
    const result = await ingestItems(
      ctx.pool,
      input.readings.map((r) => ({
        meterSerial: r.meterSerial,
        channel: r.channel,
        intervalStart: r.intervalStart.getTime(),
        intervalSeconds: r.intervalSeconds,
        value: r.value,
        unit: r.unit,
        quality: r.quality ?? null,
      })),
      {
        source,
        format: 'graphql',
        now: Date.now(),
        clockToleranceSeconds: ctx.config.clockToleranceSeconds,
      },
    );
    ctx.logger.info(
      {
        batchId: result.batchId,
        accepted: result.accepted,
        changed: result.changed,
        rejected: result.rejected,
      },
      'readings ingested',
    );
    const event: IngestBatchEvent = {
      batchId: result.batchId,
      source,
      accepted: result.accepted,
      unchanged: result.unchanged,
      changed: result.changed,
      rejected: result.rejected,
      finishedAt: new Date(),
    };
    ctx.pubSub.publish(Topic.READINGS_INGESTED, event);
    return result;
  }

  @Authorized(Allow.ingestEvents)
  @Subscription(() => IngestBatchEvent, {
    topics: Topic.READINGS_INGESTED,
    description: 'Every finished ingestReadings batch of this gateway, as it completes.',
  })
  readingsIngested(@Root() event: IngestBatchEvent): IngestBatchEvent {
    return event;
  }
}

/** `{ name }` when the input gave one (a string or null), else nothing. */
function named(name: string | null | undefined): { name?: string | null } {
  return name === undefined ? {} : { name };
}

function topologyDoc(input: TopologyInput): TopologyDoc {
  return {
    // A name left out keeps the stored one; null clears it (see upsertTopology).
    substations: (input.substations ?? []).map((s) => ({ code: s.code, ...named(s.name) })),
    feeders: (input.feeders ?? []).map((f) => ({
      code: f.code,
      substation: f.substation,
      ...named(f.name),
    })),
    transformers: (input.transformers ?? []).map((t) => ({
      code: t.code,
      feeder: t.feeder,
      ratedKva: t.ratedKva,
      phase: t.phase,
    })),
    accounts: (input.accounts ?? []).map((a) => ({
      code: a.code,
      ...named(a.name),
      customerClass: a.customerClass,
    })),
    servicePoints: (input.servicePoints ?? []).map((sp) => ({
      code: sp.code,
      transformer: sp.transformer,
      premise: sp.premise,
      account: sp.account ?? null,
      timeZone: sp.timeZone,
    })),
    meters: (input.meters ?? []).map((m) => ({
      serial: m.serial,
      mrid: m.mrid ?? null,
      servicePoint: m.servicePoint,
      commPath: m.commPath,
      installedAt: m.installedAt.toISOString(),
      removedAt: m.removedAt ? m.removedAt.toISOString() : null,
      // Unset optional fields stay unset so the storage defaults apply; a bad unit is left
      // for validation to report.
      ...(m.multiplier != null ? { multiplier: m.multiplier } : {}),
      ...(m.unit != null ? { unit: m.unit as 'kWh' } : {}),
      ...(m.intervalSeconds != null ? { intervalSeconds: m.intervalSeconds } : {}),
      ...(m.channels != null ? { channels: m.channels } : {}),
      ...(m.status != null ? { status: m.status } : {}),
    })),
  };
}
