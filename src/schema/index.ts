/**
 * Builds the GraphQL schema from the type-graphql classes and resolvers. Arguments are checked
 * in the resolvers (no class-validator pass over every input: a 50,000-reading batch would pay
 * for it). The printed schema is committed as src/schema/schema.graphql (see print.ts).
 */
import { type GraphQLSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';
import { authChecker } from '../auth/access';
import { InProcessPubSub, resolvers } from '../resolvers';
import { DateTimeScalar } from './scalars';

export interface SchemaOptions {
  /** Where subscriptions listen; must be the one the resolvers' context publishes to. */
  pubSub?: PubSub;
}

export async function buildMeterdataSchema(opts: SchemaOptions = {}): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [...resolvers],
    validate: false,
    pubSub: opts.pubSub ?? new InProcessPubSub(),
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    // Roles on every operation and edge (`@Authorized(Allow.x)`); objects are checked by the
    // request's loaders (src/context.ts).
    authChecker,
    authMode: 'error',
    emitSchemaFile: false,
  });
}
