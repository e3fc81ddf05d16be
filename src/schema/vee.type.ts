/** VEE types: rule sets, exceptions and their pages, per-interval flags and per-day summaries. */
import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { type Channel } from '../domain/channel';
import { type MeterClass } from '../domain/vee';
import { type ExceptionStatus } from '../storage/vee';
import { ChannelEnum, CustomerClassEnum } from './enums';
import { PageInfo } from './paging';
import { DateTimeScalar } from './scalars';

export const VeeExceptionStatusEnum = {
  OPEN: 'open',
  ACCEPTED: 'accepted',
  RESOLVED: 'resolved',
} as const satisfies { [K in ExceptionStatus as Uppercase<K>]: K };
registerEnumType(VeeExceptionStatusEnum, {
  name: 'VeeExceptionStatus',
  description:
    'open: raised by a rule, waiting for an operator; accepted: the data is right as it is; resolved: fixed (or no longer failing when validated again).',
});

export const VeeSeverityEnum = { INFO: 'info', WARNING: 'warning', ERROR: 'error' } as const;
registerEnumType(VeeSeverityEnum, { name: 'VeeSeverity' });

@ObjectType({ description: 'The current (highest) version of the VEE rule set of a meter class.' })
export class VeeRuleSet {
  @Field(() => CustomerClassEnum)
  meterClass!: MeterClass;

  @Field(() => Int)
  version!: number;

  @Field()
  name!: string;

  @Field(() => GraphQLJSONObject, {
    description:
      'The whole rule set: {name, meterClass, version, rules: {<rule>: {enabled, severity, params}}}.',
  })
  ruleSet!: Record<string, unknown>;

  @Field(() => String, { nullable: true })
  createdBy!: string | null;

  @Field(() => DateTimeScalar)
  createdAt!: Date;
}

@ObjectType({ description: 'A rule failure on a meter channel over [from, to).' })
export class VeeException {
  @Field(() => ID)
  id!: string;

  @Field()
  meterSerial!: string;

  @Field(() => ChannelEnum)
  channel!: Channel;

  @Field(() => DateTimeScalar)
  from!: Date;

  @Field(() => DateTimeScalar)
  to!: Date;

  @Field()
  rule!: string;

  @Field(() => VeeSeverityEnum)
  severity!: string;

  @Field()
  detail!: string;

  @Field(() => GraphQLJSONObject, { nullable: true })
  data!: Record<string, number> | null;

  @Field(() => VeeExceptionStatusEnum)
  status!: ExceptionStatus;

  @Field(() => DateTimeScalar)
  createdAt!: Date;

  @Field(() => Int, { description: 'Version of the rule set that raised it.' })
  ruleSetVersion!: number;

  @Field(() => String, { nullable: true })
  decidedBy!: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  decidedAt!: Date | null;

  @Field(() => String, { nullable: true })
  note!: string | null;
}

@ObjectType()
export class VeeExceptionConnection {
  @Field(() => [VeeException])
  nodes!: VeeException[];

  @Field()
  pageInfo!: PageInfo;
}

@InputType('VeeExceptionFilter')
export class VeeExceptionFilterInput {
  @Field(() => String, { nullable: true })
  meterSerial?: string | null;

  @Field(() => String, { nullable: true })
  rule?: string | null;

  @Field(() => VeeExceptionStatusEnum, { nullable: true })
  status?: ExceptionStatus | null;

  @Field(() => VeeSeverityEnum, { nullable: true })
  severity?: string | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'Exceptions ending after this.' })
  from?: Date | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'Exceptions starting before this.' })
  to?: Date | null;
}

@ObjectType({ description: 'Interval counts of one local day by VEE state.' })
export class VeeDaySummary {
  @Field({ description: 'Local date (yyyy-mm-dd) in the service point time zone.' })
  date!: string;

  @Field(() => Int, { description: 'Actual values no error-severity rule failed on.' })
  valid!: number;

  @Field(() => Int, { description: 'Estimated (quality 8, 9, 11, 12, 15).' })
  estimated!: number;

  @Field(() => Int, { description: 'Manually edited (quality 7).' })
  edited!: number;

  @Field(() => Int, {
    description: 'Values an error-severity rule failed on (quality 10, or flagged by such a rule).',
  })
  failed!: number;

  @Field(() => Int, { description: 'Expected intervals without a value.' })
  missing!: number;

  @Field(() => Int, { description: 'Open exceptions overlapping the day.' })
  openExceptions!: number;
}

@ObjectType({ description: 'What a re-validation did.' })
export class VeeRunResult {
  @Field(() => Int, { description: 'Meter-channel windows validated.' })
  windows!: number;

  @Field(() => Int, { description: 'Rule failures found (new or already known).' })
  failures!: number;

  @Field(() => Int)
  exceptionsCreated!: number;

  @Field(() => Int, { description: 'Open exceptions that no longer fail.' })
  exceptionsResolved!: number;

  @Field(() => Int, { description: 'Day rows whose flags changed.' })
  daysFlagged!: number;
}

export const EditMethodEnum = {
  INTERPOLATE: 'INTERPOLATE',
  COPY_DAY: 'COPY_DAY',
  SCALE: 'SCALE',
} as const;
registerEnumType(EditMethodEnum, {
  name: 'EditMethod',
  description:
    'INTERPOLATE: linear between the intervals just before and after the range; COPY_DAY: the same local times of sourceDay; SCALE: the current values × factor.',
});

@InputType('EditReadingsInput')
export class EditReadingsInput {
  @Field()
  meterSerial!: string;

  @Field(() => ChannelEnum, { nullable: true, defaultValue: ChannelEnum.DELIVERED })
  channel?: Channel | null;

  @Field(() => DateTimeScalar)
  from!: Date;

  @Field(() => DateTimeScalar)
  to!: Date;

  @Field(() => [Float], {
    nullable: true,
    description: 'One value (kWh) per interval of [from, to); or use method.',
  })
  values?: number[] | null;

  @Field(() => EditMethodEnum, { nullable: true })
  method?: 'INTERPOLATE' | 'COPY_DAY' | 'SCALE' | null;

  @Field(() => String, { nullable: true, description: 'Local date (yyyy-mm-dd) for COPY_DAY.' })
  sourceDay?: string | null;

  @Field(() => Float, { nullable: true, description: 'Factor for SCALE.' })
  factor?: number | null;

  @Field({ description: 'Why: kept in the audit.' })
  reason!: string;
}

@ObjectType({ description: 'What an edit or an estimation changed (audited in reading_audit).' })
export class ReadingChangeResult {
  @Field(() => Int, { description: 'Intervals whose value was set.' })
  intervals!: number;

  @Field(() => ID, { description: 'The audit record.' })
  auditId!: string;

  @Field(() => [Float], {
    nullable: 'items',
    description: 'Per interval of the range: the value set (null where unchanged).',
  })
  values!: Array<number | null>;

  @Field(() => [String], {
    nullable: 'items',
    description:
      'Per interval: the estimation method (linear, flat, like_day, proration, outage_zero).',
  })
  methods!: Array<string | null>;
}
