/**
 * A gateway under test for the access-control suites: its own database (PGlite, or a fresh
 * PostgreSQL database with DATABASE_URL), the small topology unless told otherwise,
 * `startServer` on port 0 with the test JWT secret, and a pool that counts its queries.
 * (Not a test file.)
 */
import { type ConnectionPool } from '@databases/pg';
import { type Config } from '../../src/config';
import { type TopologyDoc } from '../../src/domain/topology';
import { PostgresQueue } from '../../src/ingest/queue';
import { silentLogger } from '../../src/logger';
import { type Runtime } from '../../src/runtime';
import { startServer, type ServerHandle } from '../../src/server';
import { upsertTopology } from '../../src/storage/topology';
import { openTestDatabase, type TestDatabase } from '../helpers/db';
import { smallTopology } from '../helpers/fixtures';
import { testConfig } from './tokens';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface Reply {
  status: number;
  headers: Headers;
  body: Json;
}

export interface AuthServer {
  db: TestDatabase;
  rt: Runtime;
  server: ServerHandle;
  /** queries run through the server's pool so far */
  queries(): number;
  /** POST /graphql with a JSON body (a string is sent as it is) */
  post(body: unknown, headers?: Record<string, string>): Promise<Reply>;
  gql(
    query: string,
    headers: Record<string, string>,
    variables?: Record<string, unknown>,
  ): Promise<Reply>;
  close(): Promise<void>;
}

/** Counts `query` calls on a pool (tasks and transactions count as one each). */
export function countingPool(pool: ConnectionPool): { pool: ConnectionPool; count: () => number } {
  let n = 0;
  const proxy = new Proxy(pool, {
    get(target, key) {
      const v = Reflect.get(target, key, target);
      if (key === 'query' || key === 'task' || key === 'tx') {
        return (...args: unknown[]) => {
          n++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as ConnectionPool;
  return { pool: proxy, count: () => n };
}

export async function openAuthServer(
  opts: { config?: Partial<Config>; topology?: TopologyDoc; production?: boolean } = {},
): Promise<AuthServer> {
  const db = await openTestDatabase();
  await upsertTopology(db.pool, opts.topology ?? smallTopology());
  const counting = countingPool(db.pool);
  // statementTimeoutMs 0: the API uses this pool (not a second one), so its queries are counted.
  const config = testConfig({ statementTimeoutMs: 0, ...opts.config });
  const rt: Runtime = {
    config,
    logger: silentLogger,
    db: { ...db, pool: counting.pool },
    queue: new PostgresQueue(db.pool),
    close: async () => {},
  };
  const server = await startServer(rt, { port: 0, host: '127.0.0.1' });
  const post = async (body: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: Json;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, headers: res.headers, body: parsed };
  };
  return {
    db,
    rt,
    server,
    queries: counting.count,
    post,
    gql: (query, headers, variables) =>
      post({ query, ...(variables ? { variables } : {}) }, headers),
    async close() {
      await server.close();
      await db.close();
    },
  };
}
