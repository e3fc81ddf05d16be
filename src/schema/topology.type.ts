/** The network and customer topology: substation → feeder → transformer → service point. */
import { Field, Float, ID, ObjectType } from 'type-graphql';
import { type CustomerClass, type Phase } from '../domain/topology';
import { CustomerClassEnum, PhaseEnum } from './enums';

@ObjectType()
export class Substation {
  @Field(() => ID)
  id!: number;

  @Field()
  code!: string;

  @Field(() => String, { nullable: true })
  name!: string | null;
}

@ObjectType()
export class Feeder {
  @Field(() => ID)
  id!: number;

  @Field()
  code!: string;

  @Field(() => String, { nullable: true })
  name!: string | null;
}

@ObjectType({ description: 'A distribution transformer serving a group of service points.' })
export class Transformer {
  @Field(() => ID)
  id!: number;

  @Field()
  code!: string;

  @Field(() => Float, { description: 'Nameplate rating, kVA.' })
  ratedKva!: number;

  @Field(() => PhaseEnum)
  phase!: Phase;
}

@ObjectType({ description: 'A premise where energy is delivered; holds one or more meters.' })
export class ServicePoint {
  @Field(() => ID)
  id!: number;

  @Field()
  code!: string;

  @Field()
  premise!: string;

  @Field({ description: 'IANA time zone; local-time roll-ups of its meters use it.' })
  timeZone!: string;
}

@ObjectType({ description: 'A customer account.' })
export class Account {
  @Field(() => ID)
  id!: number;

  @Field()
  code!: string;

  @Field(() => String, { nullable: true })
  name!: string | null;

  @Field(() => CustomerClassEnum)
  customerClass!: CustomerClass;
}
