/** The caller as the API sees them: which identity, which roles, which accounts. */
import { Field, ObjectType } from 'type-graphql';
import { type Role } from '../auth/roles';
import { RoleEnum } from './enums';
import { DateTimeScalar } from './scalars';

@ObjectType({ description: 'The identity of the caller.' })
export class Viewer {
  @Field({ description: '`jwt:<sub>`, `key:<id>` or `internal:<name>`.' })
  subject!: string;

  @Field(() => [RoleEnum])
  roles!: Role[];

  @Field(() => [String], { description: "Codes of a customer's accounts." })
  accounts!: string[];

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: 'When the credential expires (a JWT); null for API keys.',
  })
  expiresAt!: Date | null;
}
