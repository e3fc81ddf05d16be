/** Relay-style connection for meters: keyset-paged by id, with an opaque cursor. */
import { Field, Int, ObjectType } from 'type-graphql';
import { type MeterRecord } from '../storage/topology';
import { Meter } from './meter.type';

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Cursor of the last edge; pass as `after`.' })
  endCursor!: string | null;
}

@ObjectType()
export class MeterEdge {
  @Field()
  cursor!: string;

  @Field(() => Meter)
  node!: MeterRecord;
}

@ObjectType()
export class MeterConnection {
  @Field(() => [MeterEdge])
  edges!: MeterEdge[];

  @Field(() => [Meter])
  nodes!: MeterRecord[];

  @Field()
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'Meters matching the filter, over all pages.' })
  totalCount!: number;
}
