/**
 * graphql-ws hooks: the token travels in connection_init (`{ authorization: 'Bearer …' }` or
 * `{ apiKey }`). No credentials → close 4401 (Unauthorized); credentials that prove nothing,
 * or access that ends while connected (the token's `exp` passes, the key is revoked) → close
 * 4403 (Forbidden). Each subscribe is parsed, validated and costed under the same limits as
 * HTTP, counted against the connection's cap and the identity's rate limit, and runs with a
 * fresh context for the identity (so roles are checked at subscribe time).
 */
import {
  getOperationAST,
  GraphQLError,
  type GraphQLSchema,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type ValidationRule,
} from 'graphql';
import { type Context as WsContext, type ServerOptions } from 'graphql-ws';
import type http from 'node:http';
import { type Config } from '../config';
import { extensionsOf, type MeterdataError } from '../errors';
import { type Context } from '../context';
import { type Logger } from '../logger';
import { type Authenticator, credentialFromParams } from './authenticate';
import { AccessCode, accessError, isAccessError } from './errors';
import { type Identity } from './identity';
import { costError, limitRules, operationCost } from './limits';
import { type RateLimiter } from './rate-limit';

/** graphql-ws close codes (its CloseCode enum; not importable under node10 resolution). */
export const WsClose = {
  Unauthorized: 4401,
  Forbidden: 4403,
  TooManyRequests: 4429,
} as const;

/** setTimeout's longest delay; longer expiries are re-armed. */
const MAX_DELAY_MS = 2 ** 31 - 1;

interface Extra {
  socket: { close(code: number, reason: string): void };
  request: http.IncomingMessage;
}

interface Session {
  identity: Identity;
  timers: NodeJS.Timeout[];
}

export interface WsAuthDeps {
  schema: GraphQLSchema;
  config: Config;
  logger: Logger;
  auth: Authenticator;
  limiter: RateLimiter;
  /** a context for one operation of this identity */
  context(requestId: string | undefined, identity: Identity): Context;
  introspection: boolean;
}

/** A close reason fits a control frame: 123 bytes at most. */
function reason(s: string): string {
  const b = Buffer.from(s, 'utf8');
  return b.length <= 123
    ? s
    : b
        .subarray(0, 120)
        .toString('utf8')
        .replace(/\uFFFD$/, '') + '…';
}

function requestError(code: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/** A MeterdataError as graphql-ws sends it: its message, its code and details as extensions. */
function graphqlErrorOf(err: MeterdataError): GraphQLError {
  return new GraphQLError(err.message, { extensions: extensionsOf(err) });
}

export function wsAuthHooks(
  deps: WsAuthDeps,
): Pick<ServerOptions<Record<string, unknown>, Extra>, 'onConnect' | 'onClose' | 'onSubscribe'> {
  const sessions = new WeakMap<object, Session>();
  const rules: ValidationRule[] = [
    ...specifiedRules,
    ...limitRules(deps.config),
    ...(deps.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ];

  const watch = (ctx: WsContext<Record<string, unknown>, Extra>, s: Session) => {
    const close = (why: string) => ctx.extra.socket.close(WsClose.Forbidden, reason(why));
    const { expiresAt } = s.identity;
    if (expiresAt !== null) {
      const arm = () => {
        const left = expiresAt - Date.now();
        if (left <= 0) return close('Forbidden: the token expired');
        s.timers.push(setTimeout(arm, Math.min(left, MAX_DELAY_MS)));
      };
      arm();
    }
    const every = deps.config.wsRecheckSeconds * 1000;
    if (s.identity.via === 'apiKey' && every > 0) {
      const t = setInterval(() => {
        deps.auth.stillValid(s.identity).then(
          (ok) => ok || close('Forbidden: the API key was revoked'),
          (err) => deps.logger.warn({ err }, 'could not re-check a WebSocket API key'),
        );
      }, every);
      t.unref();
      s.timers.push(t);
    }
  };

  return {
    async onConnect(ctx) {
      const { socket, request } = ctx.extra;
      const address = request.socket.remoteAddress;
      const refuse = (code: number, why: string) => {
        deps.limiter.take(`ip:${address ?? '?'}`);
        socket.close(code, reason(why));
        return false;
      };
      let identity: Identity;
      try {
        const cred = credentialFromParams(ctx.connectionParams);
        if (!cred) {
          return refuse(
            WsClose.Unauthorized,
            'Unauthorized: send { authorization: "Bearer <token>" } or { apiKey } in connection_init',
          );
        }
        identity = await deps.auth.authenticate(cred, address);
      } catch (err) {
        if (!isAccessError(err)) deps.logger.error({ err }, 'WebSocket authentication failed');
        return refuse(
          WsClose.Forbidden,
          `Forbidden: ${isAccessError(err) ? err.message : 'credentials could not be checked'}`,
        );
      }
      const t = deps.limiter.take(`id:${identity.subject}`);
      if (!t.ok) {
        socket.close(
          WsClose.TooManyRequests,
          reason(`Too many requests; retry after ${t.retryAfterSeconds} s`),
        );
        return false;
      }
      const s: Session = { identity, timers: [] };
      sessions.set(ctx, s);
      watch(ctx, s);
      return true;
    },

    onClose(ctx) {
      const s = sessions.get(ctx);
      for (const t of s?.timers ?? []) clearTimeout(t);
      sessions.delete(ctx);
    },

    onSubscribe(ctx, id, payload) {
      const s = sessions.get(ctx);
      if (!s)
        return [requestError(AccessCode.UNAUTHENTICATED, 'the connection is not authenticated')];
      const t = deps.limiter.take(`id:${s.identity.subject}`);
      if (!t.ok) {
        return [
          graphqlErrorOf(
            accessError(
              AccessCode.RATE_LIMITED,
              `too many requests; retry after ${t.retryAfterSeconds} s`,
            ),
          ),
        ];
      }
      // graphql-ws has registered this subscription already: it counts.
      const cap = deps.config.maxSubscriptionsPerConnection;
      if (Object.keys(ctx.subscriptions).length > cap) {
        return [
          graphqlErrorOf(
            accessError(
              AccessCode.TOO_MANY_SUBSCRIPTIONS,
              `this connection holds ${cap} subscriptions, the most it may (MD_MAX_SUBSCRIPTIONS); complete one or open another connection`,
              { details: { maxSubscriptions: cap } },
            ),
          ),
        ];
      }
      let document;
      try {
        document = parse(payload.query, { maxTokens: deps.config.maxTokens });
      } catch (err) {
        return [requestError('GRAPHQL_PARSE_FAILED', (err as Error).message)];
      }
      const invalid = validate(deps.schema, document, rules);
      if (invalid.length) {
        return invalid.map((e) => requestError('GRAPHQL_VALIDATION_FAILED', e.message));
      }
      if (!getOperationAST(document, payload.operationName)) {
        return [requestError('GRAPHQL_VALIDATION_FAILED', 'Unable to identify the operation')];
      }
      try {
        const tooCostly = costError(
          operationCost(
            deps.schema,
            document,
            payload.variables ?? undefined,
            payload.operationName,
          ),
          deps.config.maxCost,
        );
        if (tooCostly) return [tooCostly];
      } catch (err) {
        return [requestError('BAD_USER_INPUT', (err as Error).message)];
      }
      const requestId = ctx.extra.request.headers['x-request-id'];
      return {
        schema: deps.schema,
        document,
        operationName: payload.operationName ?? null,
        variableValues: payload.variables ?? null,
        contextValue: deps.context(
          `${Array.isArray(requestId) ? requestId[0] : (requestId ?? 'ws')}:${id}`.slice(0, 128),
          s.identity,
        ),
      };
    },
  };
}
