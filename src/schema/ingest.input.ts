/** Input of the ingestReadings mutation. */
import { Field, Float, InputType, Int } from 'type-graphql';
import { type Channel } from '../domain/channel';
import { ChannelEnum } from './enums';
import { DateTimeScalar } from './scalars';

@InputType('ReadingInput', { description: 'One interval reading from a head-end system.' })
export class ReadingItemInput {
  @Field()
  meterSerial!: string;

  @Field(() => ChannelEnum)
  channel!: Channel;

  @Field(() => DateTimeScalar, { description: 'Interval start, on the meter’s interval grid.' })
  intervalStart!: Date;

  @Field(() => Int, { description: 'Must equal the meter’s interval length.' })
  intervalSeconds!: number;

  @Field(() => Float, { description: 'Energy in `unit`.' })
  value!: number;

  @Field({ description: 'Wh, kWh or MWh (stored as kWh).' })
  unit!: string;

  @Field(() => Int, {
    nullable: true,
    description: 'ESPI QualityOfReading code; absent = 0 (valid).',
  })
  quality?: number | null;
}

@InputType()
export class IngestReadingsInput {
  @Field(() => String, {
    nullable: true,
    defaultValue: 'graphql',
    description: 'Where the batch comes from.',
  })
  source?: string | null;

  @Field(() => [ReadingItemInput], {
    description: 'At most MD_MAX_MUTATION_BATCH readings; a larger batch is refused whole.',
  })
  readings!: ReadingItemInput[];
}
