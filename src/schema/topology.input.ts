/**
 * Input of upsertTopology: the TopologyDoc of domain/topology.ts as GraphQL input types.
 * Parents are referenced by code, within the input or already stored.
 */
import { Field, Float, InputType, Int } from 'type-graphql';
import { type Channel } from '../domain/channel';
import {
  type CommPath,
  type CustomerClass,
  type MeterStatus,
  type Phase,
} from '../domain/topology';
import { ChannelEnum, CommPathEnum, CustomerClassEnum, MeterStatusEnum, PhaseEnum } from './enums';
import { DateTimeScalar } from './scalars';

@InputType()
export class SubstationInput {
  @Field()
  code!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Left out: the stored name is kept (none for a new row); null clears it.',
  })
  name?: string | null;
}

@InputType()
export class FeederInput {
  @Field()
  code!: string;

  @Field({ description: 'Code of the substation.' })
  substation!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Left out: the stored name is kept (none for a new row); null clears it.',
  })
  name?: string | null;
}

@InputType()
export class TransformerInput {
  @Field()
  code!: string;

  @Field({ description: 'Code of the feeder.' })
  feeder!: string;

  @Field(() => Float)
  ratedKva!: number;

  @Field(() => PhaseEnum)
  phase!: Phase;
}

@InputType()
export class AccountInput {
  @Field()
  code!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Left out: the stored name is kept (none for a new row); null clears it.',
  })
  name?: string | null;

  @Field(() => CustomerClassEnum)
  customerClass!: CustomerClass;
}

@InputType()
export class ServicePointInput {
  @Field()
  code!: string;

  @Field({ description: 'Code of the transformer.' })
  transformer!: string;

  @Field()
  premise!: string;

  @Field(() => String, { nullable: true, description: 'Code of the account.' })
  account?: string | null;

  @Field({ description: 'IANA time zone, e.g. America/New_York.' })
  timeZone!: string;
}

@InputType()
export class MeterInput {
  @Field()
  serial!: string;

  @Field(() => String, { nullable: true })
  mrid?: string | null;

  @Field({ description: 'Code of the service point.' })
  servicePoint!: string;

  @Field(() => Float, { nullable: true, description: 'Default 1.' })
  multiplier?: number | null;

  @Field(() => String, { nullable: true, description: 'Default and only value: kWh.' })
  unit?: string | null;

  @Field(() => Int, { nullable: true, description: 'Default 900; ≥ 60 and divides 86400.' })
  intervalSeconds?: number | null;

  @Field(() => [ChannelEnum], { nullable: true, description: 'Default [DELIVERED].' })
  channels?: Channel[] | null;

  @Field(() => DateTimeScalar)
  installedAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  removedAt?: Date | null;

  @Field(() => MeterStatusEnum, { nullable: true, description: 'Default ACTIVE.' })
  status?: MeterStatus | null;

  @Field(() => CommPathEnum)
  commPath!: CommPath;
}

@InputType({ description: 'A topology document; every list may be empty.' })
export class TopologyInput {
  @Field(() => [SubstationInput], { nullable: true })
  substations?: SubstationInput[] | null;

  @Field(() => [FeederInput], { nullable: true })
  feeders?: FeederInput[] | null;

  @Field(() => [TransformerInput], { nullable: true })
  transformers?: TransformerInput[] | null;

  @Field(() => [AccountInput], { nullable: true })
  accounts?: AccountInput[] | null;

  @Field(() => [ServicePointInput], { nullable: true })
  servicePoints?: ServicePointInput[] | null;

  @Field(() => [MeterInput], { nullable: true })
  meters?: MeterInput[] | null;
}
