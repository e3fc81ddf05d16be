/**
 * Reading results. The columnar types (ReadingSeries, InstantSnapshot, TransformerSeries) carry
 * plain arrays — one GraphQL list per column instead of an object per interval — which is what
 * keeps a meter-month cheap to serve.
 */
import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { type Channel } from '../domain/channel';
import { type ChangeReason } from '../domain/readings';
import { type Resolution } from '../domain/series';
import { ChangeReasonEnum, ChannelEnum, CommPathEnum, ResolutionEnum } from './enums';
import { DateTimeScalar } from './scalars';

@ObjectType({
  description:
    'One meter channel over a range as columns: interval i covers [start + i·intervalSeconds, start + (i+1)·intervalSeconds).',
})
export class ReadingSeries {
  @Field(() => ID)
  meterId!: number;

  @Field(() => ChannelEnum)
  channel!: Channel;

  @Field(() => DateTimeScalar, { description: 'Start of the first interval.' })
  start!: Date;

  @Field(() => DateTimeScalar, { description: 'End of the last interval (exclusive).' })
  end!: Date;

  @Field(() => Int)
  intervalSeconds!: number;

  @Field(() => Int, { description: 'Intervals with a reading.' })
  count!: number;

  @Field(() => Int, { description: 'Intervals without a reading (null in values).' })
  missing!: number;

  @Field(() => Float, { nullable: true, description: 'Sum of the present values, kWh.' })
  total!: number | null;

  @Field(() => [Float], { nullable: 'items', description: 'kWh per interval; null = missing.' })
  values!: Array<number | null>;

  @Field(() => [Int], {
    nullable: 'items',
    description: 'ESPI QualityOfReading code per interval (0 = valid); null = missing.',
  })
  quality!: Array<number | null>;
}

@ObjectType({ description: 'One interval reading (per-interval form; small ranges only).' })
export class Reading {
  @Field(() => DateTimeScalar)
  start!: Date;

  @Field(() => DateTimeScalar)
  end!: Date;

  @Field(() => Float, { nullable: true, description: 'kWh; null when missing.' })
  value!: number | null;

  @Field(() => Int, { nullable: true, description: 'ESPI QualityOfReading code.' })
  quality!: number | null;

  @Field()
  missing!: boolean;

  @Field(() => Int, {
    nullable: true,
    description: 'Version of the stored value (1 = as first received).',
  })
  version!: number | null;

  @Field(() => ID, {
    nullable: true,
    description: 'The ingest batch that wrote the current value.',
  })
  batchId!: string | null;

  @Field(() => String, { nullable: true, description: 'Who sent it (file source, "graphql", …).' })
  source!: string | null;

  @Field(() => String, { nullable: true, description: 'Head-end system the file came from.' })
  sourceSystem!: string | null;

  @Field(() => CommPathEnum, { nullable: true, description: 'Communication path of the delivery.' })
  commPath!: string | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When meterdata received it.' })
  receivedAt!: Date | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Seconds from the interval end to its arrival: the collection lag.',
  })
  lagSeconds!: number | null;
}

@ObjectType({ description: 'Energy of one local-time bucket.' })
export class UsageBucket {
  @Field(() => DateTimeScalar, {
    description: 'Bucket start (the local period start, clipped to the requested range).',
  })
  start!: Date;

  @Field(() => DateTimeScalar)
  end!: Date;

  @Field({
    description: 'Local start of the whole period with its offset, e.g. 2026-03-08T00:00:00-05:00.',
  })
  localStart!: string;

  @Field(() => Float, { nullable: true, description: 'kWh, sum of the present intervals.' })
  value!: number | null;

  @Field(() => Int, { description: 'Intervals with a reading.' })
  intervals!: number;

  @Field(() => Int, {
    description: 'Intervals the bucket holds inside the range (92 or 100 on DST days at 15 min).',
  })
  expected!: number;

  @Field(() => Int)
  missing!: number;

  @Field(() => Int, { description: 'Intervals whose value is estimated or substituted.' })
  estimated!: number;
}

@ObjectType()
export class UsageSeries {
  @Field(() => ID)
  meterId!: number;

  @Field(() => ChannelEnum)
  channel!: Channel;

  @Field(() => ResolutionEnum)
  resolution!: Resolution;

  @Field({ description: 'IANA time zone the buckets follow.' })
  timeZone!: string;

  @Field(() => [UsageBucket])
  buckets!: UsageBucket[];

  @Field(() => Float, { nullable: true, description: 'Sum over the buckets, kWh.' })
  total!: number | null;
}

const TOTALS_ONLY = 'Null for roles that see totals only (planner, customer: README "Security").';

@ObjectType({
  description:
    'Many meters at one interval, as columns in meter-id order. Planners and customers get the total only, under the privacy rule.',
})
export class InstantSnapshot {
  @Field(() => DateTimeScalar, { description: 'Start of the interval (snapped down to the grid).' })
  at!: Date;

  @Field(() => Int)
  intervalSeconds!: number;

  @Field(() => ChannelEnum)
  channel!: Channel;

  @Field(() => [ID], { nullable: true, description: TOTALS_ONLY })
  meterIds!: number[] | null;

  @Field(() => [String], { nullable: true, description: TOTALS_ONLY })
  serials!: string[] | null;

  @Field(() => [Float], {
    nullable: 'itemsAndList',
    description: `kWh; null = the meter did not report. ${TOTALS_ONLY}`,
  })
  values!: Array<number | null> | null;

  @Field(() => [Int], { nullable: 'itemsAndList', description: TOTALS_ONLY })
  quality!: Array<number | null> | null;

  @Field(() => Float, { nullable: true, description: 'Sum over the reporting meters, kWh.' })
  total!: number | null;

  @Field(() => Int, { description: 'Meters with a reading at this interval.' })
  reporting!: number;
}

@ObjectType({ description: "A transformer's meters over a range, and their per-interval sum." })
export class TransformerSeries {
  @Field(() => DateTimeScalar)
  start!: Date;

  @Field(() => DateTimeScalar)
  end!: Date;

  @Field(() => Int, {
    description: 'Interval of `total`: the common multiple of the meters’ interval lengths.',
  })
  intervalSeconds!: number;

  @Field(() => [ReadingSeries], { nullable: true, description: TOTALS_ONLY })
  meters!: ReadingSeries[] | null;

  @Field(() => [Float], {
    nullable: 'items',
    description:
      'kWh per interval summed over the meters; null when no meter reported, or when the privacy rule withholds it (see withheld).',
  })
  total!: Array<number | null>;

  @Field(() => [Boolean], {
    description:
      'Per interval: the total is withheld by the privacy rule (planners and customers only; README "Security").',
  })
  withheld!: boolean[];
}

@ObjectType({ description: 'A replaced version of an interval value (append-only history).' })
export class ReadingVersion {
  @Field(() => DateTimeScalar, { description: 'Interval start.' })
  start!: Date;

  @Field(() => DateTimeScalar)
  end!: Date;

  @Field(() => Int, { description: 'The version that was replaced.' })
  version!: number;

  @Field(() => Float, { nullable: true })
  value!: number | null;

  @Field(() => Int, { nullable: true })
  quality!: number | null;

  @Field(() => ID, { nullable: true, description: 'Batch that had written the replaced value.' })
  batchId!: number | null;

  @Field(() => Float, { nullable: true })
  newValue!: number | null;

  @Field(() => Int, { nullable: true })
  newQuality!: number | null;

  @Field(() => ChangeReasonEnum)
  reason!: ChangeReason;

  @Field(() => ID, { nullable: true })
  changedByBatch!: number | null;

  @Field(() => String, { nullable: true })
  changedByUser!: string | null;

  @Field(() => DateTimeScalar)
  changedAt!: Date;
}
