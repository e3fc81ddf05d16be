/** Filter of the meters query. Filters given together must all hold; codes within one list are alternatives. */
import { Field, InputType } from 'type-graphql';
import { type CommPath, type MeterStatus } from '../domain/topology';
import { CommPathEnum, MeterStatusEnum } from './enums';

@InputType('MeterFilter')
export class MeterFilterInput {
  @Field(() => String, { nullable: true })
  transformerCode?: string | null;

  @Field(() => [String], { nullable: true })
  transformerCodes?: string[] | null;

  @Field(() => String, { nullable: true })
  feederCode?: string | null;

  @Field(() => [String], { nullable: true })
  feederCodes?: string[] | null;

  @Field(() => String, { nullable: true })
  substationCode?: string | null;

  @Field(() => MeterStatusEnum, { nullable: true })
  status?: MeterStatus | null;

  @Field(() => CommPathEnum, { nullable: true })
  commPath?: CommPath | null;
}
