/**
 * Preloaded (`node -r`) into the PostGraphile child process only. npm puts the project's
 * graphql 16 at the top of node_modules and nests separate copies of graphql 15 under
 * postgraphile and graphile-build-pg, so PostGraphile v4 loads three graphql instances and
 * fails at query time ("Cannot use GraphQLObjectType … from another module or realm"). This
 * points every `graphql` / `graphql/*` require in that process at the one copy nested under
 * postgraphile.
 */
import Module from 'node:module';
import path from 'node:path';

const postgraphileDir = path.dirname(require.resolve('postgraphile/package.json'));
const graphqlDir = path.dirname(
  require.resolve('graphql/package.json', { paths: [postgraphileDir] }),
);

type Resolve = (request: string, ...rest: unknown[]) => string;
const mod = Module as unknown as { _resolveFilename: Resolve };
const original = mod._resolveFilename;
mod._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
  if (request === 'graphql' || request.startsWith('graphql/')) {
    request = path.join(graphqlDir, request.slice('graphql'.length));
  }
  return original.call(this, request, ...rest);
};
