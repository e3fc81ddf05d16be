/** Results of the write mutations and the ingest event of the readingsIngested subscription. */
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { type ErrorCode } from '../errors';
import { ErrorCodeEnum } from './enums';
import { DateTimeScalar } from './scalars';

@ObjectType({ description: 'Why one reading of a batch was not stored.' })
export class Rejection {
  @Field(() => Int, { description: 'Position of the reading in the input list (0-based).' })
  index!: number;

  @Field(() => ErrorCodeEnum)
  code!: ErrorCode;

  @Field()
  message!: string;

  @Field(() => String, { nullable: true })
  meterSerial?: string | null;
}

@ObjectType('IngestResult')
export class IngestResultType {
  @Field(() => ID)
  batchId!: number;

  @Field(() => Int, { description: 'Readings stored for intervals that had none.' })
  accepted!: number;

  @Field(() => Int, { description: 'Readings equal to what was stored (no-op).' })
  unchanged!: number;

  @Field(() => Int, { description: 'Readings that replaced a stored value (history kept).' })
  changed!: number;

  @Field(() => Int)
  rejected!: number;

  @Field(() => [Rejection], { description: 'The first 1000 rejections, in input order.' })
  rejections!: Rejection[];
}

@ObjectType({ description: 'A finished ingest batch (readingsIngested subscription).' })
export class IngestBatchEvent {
  @Field(() => ID)
  batchId!: number;

  @Field()
  source!: string;

  @Field(() => Int)
  accepted!: number;

  @Field(() => Int)
  unchanged!: number;

  @Field(() => Int)
  changed!: number;

  @Field(() => Int)
  rejected!: number;

  @Field(() => DateTimeScalar)
  finishedAt!: Date;
}

@ObjectType({ description: 'Rows in the upserted topology document, per table.' })
export class TopologyResult {
  @Field(() => Int)
  substations!: number;

  @Field(() => Int)
  feeders!: number;

  @Field(() => Int)
  transformers!: number;

  @Field(() => Int)
  accounts!: number;

  @Field(() => Int)
  servicePoints!: number;

  @Field(() => Int)
  meters!: number;
}
