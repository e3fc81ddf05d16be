/** Scalars of the API: DateTime is an RFC 3339 instant (JS Date inside), from graphql-scalars. */
import { DateTimeResolver } from 'graphql-scalars';

export const DateTimeScalar = DateTimeResolver;
