/**
 * The HTTP gateway: Apollo Server on express at /graphql, graphql-ws subscriptions on the same
 * socket path, and /healthz. Errors reach clients with `extensions.code`; anything unexpected
 * is logged with the request id and shown only as INTERNAL_SERVER_ERROR.
 */
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerErrorCode, unwrapResolverError } from '@apollo/server/errors';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import { sql } from '@databases/pg';
import express from 'express';
import { type GraphQLError, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import type { useServer as UseServer } from 'graphql-ws/dist/use/ws.cjs';
import { WebSocketServer } from 'ws';
import { type Context, type ContextDeps, createContext } from './context';
import { isMeterdataError } from './errors';
import { type Logger } from './logger';
import { InProcessPubSub } from './resolvers/pubsub';
import { ingestRouter } from './ingest/http';
import { type Runtime } from './runtime';
import { buildMeterdataSchema } from './schema';

// graphql-ws publishes its ws adapter only through package "exports", which the project's
// node10 type resolution cannot follow: load it by its public path, typed from its file.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { useServer } = require('graphql-ws/use/ws') as { useServer: typeof UseServer };

const INTERNAL_MESSAGE = 'Internal server error';
const HEALTH_TIMEOUT_MS = 2000;

/** Whether a client may see this error as it is (ours, or a request error Apollo coded). */
function isExposed(error: unknown): boolean {
  const original = unwrapResolverError(error);
  if (isMeterdataError(original)) return true;
  const code = (error as GraphQLError | null)?.extensions?.code;
  return typeof code === 'string' && code !== ApolloServerErrorCode.INTERNAL_SERVER_ERROR;
}

/**
 * Apollo `formatError`: MeterdataErrors keep their message and code (plus their details, e.g.
 * `problems`); coded GraphQL errors (validation, bad variables) pass; the rest is masked.
 */
export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
): GraphQLFormattedError {
  const base = {
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
  };
  const original = unwrapResolverError(error);
  if (isMeterdataError(original)) {
    return {
      message: original.message,
      ...base,
      extensions: { ...(original.details ?? {}), code: original.code },
    };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && code !== ApolloServerErrorCode.INTERNAL_SERVER_ERROR) {
    const extensions = { ...formatted.extensions };
    delete extensions.stacktrace;
    return { message: formatted.message, ...base, extensions };
  }
  return {
    message: INTERNAL_MESSAGE,
    ...base,
    extensions: { code: ApolloServerErrorCode.INTERNAL_SERVER_ERROR },
  };
}

function logUnexpected(logger: Logger, errors: readonly GraphQLError[]): void {
  for (const e of errors) {
    if (isExposed(e)) continue;
    logger.error(
      { err: unwrapResolverError(e), path: e.path },
      'unexpected error in a GraphQL operation',
    );
  }
}

const errorLogging: ApolloServerPlugin<Context> = {
  async requestDidStart() {
    return {
      async didEncounterErrors({ contextValue, errors }) {
        logUnexpected(contextValue.logger, errors);
      },
    };
  },
};

export interface Gateway {
  schema: GraphQLSchema;
  apollo: ApolloServer<Context>;
  pubSub: InProcessPubSub;
  deps: ContextDeps;
  /** A context for one request (what the HTTP and WebSocket handlers create). */
  context(requestId?: string | null): Context;
}

export interface GatewayOptions {
  /** Default: on unless config.production. */
  introspection?: boolean;
  plugins?: Array<ApolloServerPlugin<Context>>;
}

/** Schema, pub/sub and Apollo Server (not started): what startServer serves, and tests execute against. */
export async function createGateway(
  rt: Pick<Runtime, 'config' | 'logger' | 'db'>,
  opts: GatewayOptions = {},
): Promise<Gateway> {
  const pubSub = new InProcessPubSub();
  const schema = await buildMeterdataSchema({ pubSub });
  const deps: ContextDeps = { pool: rt.db.pool, config: rt.config, logger: rt.logger, pubSub };
  const apollo = new ApolloServer<Context>({
    schema,
    formatError,
    introspection: opts.introspection ?? !rt.config.production,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    includeStacktraceInErrorResponses: false,
    // The process owner (the CLI's serve, an embedding program) decides when to stop.
    stopOnTerminationSignals: false,
    plugins: [
      // No HTTP cache hints are set anywhere; without the plugin Apollo does not wrap every
      // field resolver to collect them (measurable on a 3,000-value series).
      ApolloServerPluginCacheControlDisabled(),
      errorLogging,
      ...(opts.plugins ?? []),
    ],
  });
  return { schema, apollo, pubSub, deps, context: (id) => createContext(deps, id) };
}

export interface ServerHandle {
  /** http://host:port/graphql (also the ws:// endpoint for subscriptions) */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startServer(
  rt: Runtime,
  opts: { port?: number; host?: string; introspection?: boolean } = {},
): Promise<ServerHandle> {
  const app = express();
  app.disable('x-powered-by');
  const httpServer = http.createServer(app);
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
  const drainWs: ApolloServerPlugin<Context> = {
    async serverWillStart() {
      return { drainServer: async () => wsCleanup.dispose() };
    },
  };
  const gw = await createGateway(rt, {
    ...(opts.introspection !== undefined ? { introspection: opts.introspection } : {}),
    plugins: [ApolloServerPluginDrainHttpServer({ httpServer }), drainWs],
  });
  // Each subscribe message gets its own context (and so its own loaders).
  const wsCleanup = useServer(
    {
      schema: gw.schema,
      context: (ctx) => gw.context(headerOf(ctx.extra.request, 'x-request-id')),
      onNext: (_ctx, _id, _payload, args, result) => {
        if (!result.errors?.length) return;
        logUnexpected((args.contextValue as Context).logger, result.errors);
        return { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e)) };
      },
      onError: (_ctx, _id, _payload, errors) => {
        logUnexpected(rt.logger, errors);
        return errors.map((e) => formatError(e.toJSON(), e));
      },
    },
    wsServer,
  );
  await gw.apollo.start();

  app.get('/healthz', async (_req, res) => {
    try {
      await withTimeout(rt.db.pool.query(sql`SELECT 1`), HEALTH_TIMEOUT_MS);
      res.status(200).json({ status: 'ok' });
    } catch (err) {
      rt.logger.warn({ err }, 'health check failed');
      res.status(503).json({ status: 'unavailable', reason: 'database did not answer' });
    }
  });
  // Head-end uploads: the raw body streams into the landing (registered before express.json).
  app.use(ingestRouter(rt));
  app.use(
    '/graphql',
    express.json({ limit: '10mb' }),
    expressMiddleware(gw.apollo, {
      context: async ({ req }) => gw.context(req.header('x-request-id')),
    }),
  );
  // Body-parser failures (too large, bad JSON) as GraphQL-shaped JSON, not an HTML page.
  app.use(
    (
      err: { status?: number; type?: string; message?: string },
      _req: express.Request,
      res: express.Response,
      next: express.NextFunction,
    ) => {
      if (res.headersSent) return next(err);
      const status =
        typeof err.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
      if (status === 500) rt.logger.error({ err }, 'unexpected HTTP error');
      res.status(status).json({
        errors: [
          {
            message: status === 500 ? INTERNAL_MESSAGE : (err.message ?? 'Bad request'),
            extensions: {
              code:
                status === 500
                  ? ApolloServerErrorCode.INTERNAL_SERVER_ERROR
                  : ApolloServerErrorCode.BAD_REQUEST,
            },
          },
        ],
      });
    },
  );

  const host = opts.host ?? rt.config.host;
  const wanted = opts.port ?? rt.config.port;
  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(wanted, host, () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await gw.apollo.stop().catch(() => undefined);
    throw new Error(
      `cannot listen on ${host}:${wanted} (${(err as Error).message}); choose another PORT or HOST, or stop the process using it`,
      { cause: err },
    );
  }
  const { port } = httpServer.address() as AddressInfo;
  const urlHost =
    host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}/graphql`;
  rt.logger.info({ url }, 'GraphQL gateway listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close: () => (closing ??= gw.apollo.stop()),
  };
}

function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
