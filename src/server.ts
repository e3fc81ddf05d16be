/**
 * The HTTP gateway: Apollo Server on express at /graphql, graphql-ws subscriptions on the same
 * socket path, and /healthz. Every request to /graphql, /ingest/files and the WebSocket proves
 * an identity first (src/auth); operations meet token, depth, alias and cost limits before any
 * resolver runs. Errors reach clients with `extensions.code`; anything unexpected is logged
 * with the request id and shown only as INTERNAL_SERVER_ERROR.
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
import { GraphQLError, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import type { useServer as UseServer } from 'graphql-ws/dist/use/ws.cjs';
import { WebSocketServer } from 'ws';
import { Authenticator } from './auth/authenticate';
import { assertAuthConfigured } from './auth/configured';
import { authenticateHttp, type HttpGuard, identityOf } from './auth/http';
import { ANONYMOUS, type Identity } from './auth/identity';
import { costError, limitRules, operationCost, withoutSuggestions } from './auth/limits';
import { RateLimiter } from './auth/rate-limit';
import { wsAuthHooks } from './auth/ws';
import { introspectionOn, suggestionsOn } from './config';
import { type Context, type ContextDeps, createContext } from './context';
import { extensionsOf, isMeterdataError, SqlState, sqlStateOf } from './errors';
import { type Logger } from './logger';
import { InProcessPubSub } from './resolvers/pubsub';
import { ingestRouter } from './ingest/http';
import { type Runtime } from './runtime';
import { buildMeterdataSchema } from './schema';
import { type Database, openDatabase } from './storage/db';

// graphql-ws publishes its ws adapter only through package "exports", which the project's
// node10 type resolution cannot follow: load it by its public path, typed from its file.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { useServer } = require('graphql-ws/use/ws') as { useServer: typeof UseServer };

const INTERNAL_MESSAGE = 'Internal server error';
const HEALTH_TIMEOUT_MS = 2000;
/** Largest WebSocket message (a subscribe with its variables), bytes. */
const WS_MAX_PAYLOAD = 1024 * 1024;

/** Whether a client may see this error as it is (ours, or a request error Apollo coded). */
function isExposed(error: unknown): boolean {
  const original = unwrapResolverError(error);
  if (isMeterdataError(original)) return true;
  const code = (error as GraphQLError | null)?.extensions?.code;
  return typeof code === 'string' && code !== ApolloServerErrorCode.INTERNAL_SERVER_ERROR;
}

/**
 * Apollo `formatError`: MeterdataErrors keep their message and code (plus their details, e.g.
 * `problems`); coded GraphQL errors (validation, bad variables) pass — without "Did you mean"
 * hints when `suggestions` is off; a statement timeout is named; the rest is masked.
 */
export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
  opts: { suggestions?: boolean } = {},
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
      extensions: extensionsOf(original),
    };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && code !== ApolloServerErrorCode.INTERNAL_SERVER_ERROR) {
    const extensions = { ...formatted.extensions };
    delete extensions.stacktrace;
    const message =
      opts.suggestions === false ? withoutSuggestions(formatted.message) : formatted.message;
    return { message, ...base, extensions };
  }
  if (sqlStateOf(original) === SqlState.QUERY_CANCELED) {
    return {
      message:
        'the query ran longer than the statement timeout (MD_STATEMENT_TIMEOUT_MS); ask for a shorter range or fewer items',
      ...base,
      extensions: { code: 'QUERY_TIMEOUT' },
    };
  }
  return {
    message: INTERNAL_MESSAGE,
    ...base,
    extensions: { code: ApolloServerErrorCode.INTERNAL_SERVER_ERROR },
  };
}

function logUnexpected(logger: Logger, errors: readonly GraphQLError[]): void {
  for (const e of errors) {
    if (isExposed(e) || sqlStateOf(unwrapResolverError(e)) === SqlState.QUERY_CANCELED) {
      if (!isExposed(e)) logger.warn({ path: e.path }, 'a query reached the statement timeout');
      continue;
    }
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

/** Refuses operations whose estimated cost is over config.maxCost, before execution. */
function costLimit(maxCost: number): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, schema, operationName }) {
          const err = costError(
            operationCost(schema, document, request.variables, operationName),
            maxCost,
          );
          if (err) {
            throw new GraphQLError(err.message, {
              extensions: { ...err.extensions, http: { status: 400 } },
            });
          }
        },
      };
    },
  };
}

export interface Gateway {
  schema: GraphQLSchema;
  apollo: ApolloServer<Context>;
  pubSub: InProcessPubSub;
  deps: ContextDeps;
  /**
   * A context for one request of `identity` (what the HTTP and WebSocket handlers create
   * after authenticating it); without one, nothing but `__typename` is allowed.
   */
  context(requestId?: string | null, identity?: Identity): Context;
}

export interface GatewayOptions {
  /** Default: MD_INTROSPECTION, else on unless production. */
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
  const { config } = rt;
  const apollo = new ApolloServer<Context>({
    schema,
    formatError: (formatted, error) =>
      formatError(formatted, error, { suggestions: suggestionsOn(config) }),
    // Explicit, whatever Apollo's defaults become: README "Security".
    introspection: opts.introspection ?? introspectionOn(config),
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    includeStacktraceInErrorResponses: false,
    parseOptions: { maxTokens: config.maxTokens },
    validationRules: limitRules(config),
    // The process owner (the CLI's serve, an embedding program) decides when to stop.
    stopOnTerminationSignals: false,
    plugins: [
      // No HTTP cache hints are set anywhere; without the plugin Apollo does not wrap every
      // field resolver to collect them (measurable on a 3,000-value series).
      ApolloServerPluginCacheControlDisabled(),
      errorLogging,
      costLimit(config.maxCost),
      ...(opts.plugins ?? []),
    ],
  });
  return {
    schema,
    apollo,
    pubSub,
    deps,
    context: (id, identity) => createContext(deps, id, identity ?? ANONYMOUS),
  };
}

/**
 * The pool the API queries with: on PostgreSQL its own, whose connections carry the statement
 * timeout (the worker's long transactions and migrations do not); the embedded database has
 * one connection and no timeout.
 */
export async function apiDatabase(rt: Pick<Runtime, 'config' | 'db'>): Promise<Database> {
  if (rt.db.embedded || !rt.config.statementTimeoutMs) return { ...rt.db, close: async () => {} };
  return openDatabase({
    databaseUrl: rt.db.url,
    poolSize: rt.config.poolSize,
    statementTimeoutMs: rt.config.statementTimeoutMs,
    applicationName: 'meterdata-api',
  });
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
  // A production start without a way to authenticate callers is refused (AUTH_NOT_CONFIGURED).
  assertAuthConfigured(rt.config);
  const api = await apiDatabase(rt);
  const guard: HttpGuard = {
    auth: new Authenticator({ config: rt.config, db: api.pool, logger: rt.logger }),
    limiter: new RateLimiter({
      perSecond: rt.config.rateLimitPerSecond,
      burst: rt.config.rateLimitBurst,
    }),
    logger: rt.logger,
  };
  const app = express();
  app.disable('x-powered-by');
  const httpServer = http.createServer(app);
  const wsServer = new WebSocketServer({
    server: httpServer,
    path: '/graphql',
    maxPayload: WS_MAX_PAYLOAD,
  });
  const drainWs: ApolloServerPlugin<Context> = {
    async serverWillStart() {
      return { drainServer: async () => wsCleanup.dispose() };
    },
  };
  const introspection = opts.introspection ?? introspectionOn(rt.config);
  const gw = await createGateway(
    { ...rt, db: api },
    {
      introspection,
      plugins: [ApolloServerPluginDrainHttpServer({ httpServer }), drainWs],
    },
  );
  const format = (e: GraphQLError) =>
    formatError(e.toJSON(), e, { suggestions: suggestionsOn(rt.config) });
  // Each subscribe message gets its own context (and so its own loaders) for the identity
  // proven in connection_init.
  const wsCleanup = useServer(
    {
      schema: gw.schema,
      ...wsAuthHooks({
        schema: gw.schema,
        config: rt.config,
        logger: rt.logger,
        auth: guard.auth,
        limiter: guard.limiter,
        introspection,
        context: (id, identity) => gw.context(id, identity),
      }),
      onNext: (_ctx, _id, _payload, args, result) => {
        if (!result.errors?.length) return;
        logUnexpected((args.contextValue as Context).logger, result.errors);
        return { ...result, errors: result.errors.map(format) };
      },
      onError: (_ctx, _id, _payload, errors) => {
        logUnexpected(rt.logger, errors);
        return errors.map(format);
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
  app.use('/ingest/files', authenticateHttp(guard, 'plain'));
  app.use(ingestRouter(rt));
  app.use(
    '/graphql',
    authenticateHttp(guard, 'graphql', { allow: landingPage }),
    express.json({ limit: '10mb' }),
    expressMiddleware(gw.apollo, {
      context: async ({ req, res }) => gw.context(req.header('x-request-id'), identityOf(res)),
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
    await api.close().catch(() => undefined);
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
    close: () => (closing ??= gw.apollo.stop().finally(() => api.close())),
  };
}

/** A browser opening the endpoint gets Apollo's landing page (no data) without credentials. */
function landingPage(req: express.Request): boolean {
  return (
    req.method === 'GET' &&
    Object.keys(req.query).length === 0 &&
    req.accepts(['application/json', 'text/html']) === 'text/html'
  );
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
