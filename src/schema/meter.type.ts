/** The Meter type. Resolvers return storage MeterRecords; the edges are field resolvers. */
import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { type Channel } from '../domain/channel';
import { type CommPath, type MeterStatus } from '../domain/topology';
import { ChannelEnum, CommPathEnum, MeterStatusEnum } from './enums';
import { DateTimeScalar } from './scalars';

@ObjectType({ description: 'An electricity meter installed at a service point.' })
export class Meter {
  @Field(() => ID)
  id!: number;

  @Field({ description: 'Serial number, unique; what head-end files name the meter by.' })
  serial!: string;

  @Field(() => String, { nullable: true, description: 'CIM master resource identifier.' })
  mrid!: string | null;

  @Field(() => Float, {
    description: 'Instrument transformer multiplier (readings are stored as delivered, in kWh).',
  })
  multiplier!: number;

  @Field({ description: 'Unit of the stored interval values: always kWh.' })
  unit!: string;

  @Field(() => Int, { description: 'Interval length in seconds (divides a day).' })
  intervalSeconds!: number;

  @Field(() => [ChannelEnum])
  channels!: Channel[];

  @Field(() => DateTimeScalar)
  installedAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  removedAt!: Date | null;

  @Field(() => MeterStatusEnum)
  status!: MeterStatus;

  @Field(() => CommPathEnum)
  commPath!: CommPath;

  @Field({ description: "IANA time zone of the meter's service point." })
  timeZone!: string;
}
