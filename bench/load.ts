/**
 * GraphQL over HTTP from this process: a keep-alive client, a readiness probe, and a
 * closed-loop load generator (C clients, each sending its next request when the previous one
 * is answered) bounded by time and by request count.
 */
import http from 'node:http';
import { log, sleep, summarize, type LatencySummary } from './util';

export interface GraphqlEndpoint {
  port: number;
  path: string;
  /** sent with every request (credentials) */
  headers?: Record<string, string>;
}

export interface RawResponse {
  status: number;
  body: string;
}

export class GraphqlClient {
  private readonly agent: http.Agent;
  constructor(
    readonly endpoint: GraphqlEndpoint,
    sockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  /** POSTs a prepared JSON body; resolves with the raw text (parsing is the caller's choice). */
  post(body: string, timeoutMs = 60_000): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: this.endpoint.port,
          path: this.endpoint.path,
          method: 'POST',
          agent: this.agent,
          headers: {
            ...this.endpoint.headers,
            'content-type': 'application/json',
            accept: 'application/json',
            'content-length': Buffer.byteLength(body),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Sends one operation and returns `data`; throws on HTTP or GraphQL errors. */
  async query<T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown> = {},
  ): Promise<T> {
    const r = await this.post(JSON.stringify({ query, variables }));
    let json: { data?: T; errors?: Array<{ message: string }> };
    try {
      json = JSON.parse(r.body);
    } catch {
      throw new Error(`HTTP ${r.status}, not JSON: ${r.body.slice(0, 300)}`);
    }
    if (r.status !== 200 || json.errors?.length || !json.data) {
      const msg = json.errors?.map((e) => e.message).join('; ') ?? r.body.slice(0, 300);
      throw new Error(`HTTP ${r.status}: ${msg}`);
    }
    return json.data;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Polls `{ __typename }` until the server answers, the process exits, or the timeout passes. */
export async function waitForGraphql(
  endpoint: GraphqlEndpoint,
  opts: { timeoutMs: number; exited: Promise<unknown>; name: string; logFile: string },
): Promise<void> {
  const client = new GraphqlClient(endpoint, 1);
  let dead = false;
  void opts.exited.then(() => (dead = true));
  const deadline = Date.now() + opts.timeoutMs;
  let last = '';
  try {
    while (Date.now() < deadline) {
      if (dead) throw new Error(`${opts.name} exited during start-up (log: ${opts.logFile})`);
      try {
        await client.query('{ __typename }');
        return;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(200);
    }
    throw new Error(
      `${opts.name} not answering on port ${endpoint.port} after ${opts.timeoutMs} ms (${last}; log: ${opts.logFile})`,
    );
  } finally {
    client.close();
  }
}

/**
 * A cheap check of a response during timing: HTTP 200 and no `errors` key (full validation
 * of the payload is done once per side before timing, so the client spends little CPU here).
 */
export function looksOk(r: RawResponse): boolean {
  return r.status === 200 && r.body.startsWith('{"data"') && !r.body.includes('"errors"');
}

export interface LoadResult extends LatencySummary {
  clients: number;
  warmupSeconds: number;
  durationSeconds: number;
  rounds: number;
  /** requests answered within the measured window */
  requests: number;
  requestsPerSecond: number;
  errors: number;
  firstError?: string;
  responseBytesMean: number;
}

export interface LoadSide {
  name: string;
  client: GraphqlClient;
  /** the body of the next request */
  next: () => string;
}

interface Tally {
  latencies: number[];
  errors: number;
  firstError?: string;
  bytes: number;
  issued: number;
  seconds: number;
}

/** `clients` closed loops against one side for `seconds`; measured into `tally` when given. */
async function phase(
  side: LoadSide,
  tally: Tally | null,
  seconds: number,
  clients: number,
  maxRequests: number,
): Promise<void> {
  const started = process.hrtime.bigint();
  const end = started + BigInt(Math.round(seconds * 1e9));
  const loop = async () => {
    while (process.hrtime.bigint() < end && (!tally || tally.issued < maxRequests)) {
      if (tally) tally.issued++;
      const body = side.next();
      const t = process.hrtime.bigint();
      let ok = false;
      let detail = '';
      let bytes = 0;
      try {
        const r = await side.client.post(body);
        ok = looksOk(r);
        if (!ok) detail = `HTTP ${r.status}: ${r.body.slice(0, 300)}`;
        bytes = r.body.length;
      } catch (err) {
        detail = (err as Error).message;
      }
      const done = process.hrtime.bigint();
      if (!tally || done > end) continue;
      if (ok) {
        tally.latencies.push(Number(done - t) / 1e6);
        tally.bytes += bytes;
      } else {
        tally.errors++;
        tally.firstError ??= detail;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  if (tally) tally.seconds += Math.min(Number(process.hrtime.bigint() - started) / 1e9, seconds);
}

/**
 * Closed-loop load on several sides, interleaved so that a change in background load affects
 * them alike: each side gets `warmupSeconds` unmeasured, then `durationSeconds` measured in
 * `rounds` slices taken in turn (order A B, B A, A B, …), or until `maxRequests` measured
 * requests per side.
 */
export async function runInterleaved(
  sides: readonly LoadSide[],
  opts: {
    clients: number;
    warmupSeconds: number;
    durationSeconds: number;
    maxRequests: number;
    rounds: number;
  },
): Promise<LoadResult[]> {
  const tallies = sides.map((): Tally => ({
    latencies: [],
    errors: 0,
    bytes: 0,
    issued: 0,
    seconds: 0,
  }));
  if (opts.warmupSeconds > 0) {
    for (const side of sides) await phase(side, null, opts.warmupSeconds, opts.clients, 0);
  }
  const slice = opts.durationSeconds / opts.rounds;
  for (let r = 0; r < opts.rounds; r++) {
    const order = sides.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) {
      log(`  round ${r + 1}/${opts.rounds}: ${sides[i]!.name}`);
      await phase(sides[i]!, tallies[i]!, slice, opts.clients, opts.maxRequests);
    }
  }
  return tallies.map((t, i) => {
    if (t.errors) log(`  ${sides[i]!.name}: ${t.errors} failed requests; first: ${t.firstError}`);
    const n = t.latencies.length;
    return {
      clients: opts.clients,
      warmupSeconds: opts.warmupSeconds,
      durationSeconds: Math.round(t.seconds * 1000) / 1000,
      rounds: opts.rounds,
      requests: n,
      requestsPerSecond: t.seconds > 0 ? Math.round((n / t.seconds) * 10) / 10 : 0,
      errors: t.errors,
      ...(t.firstError ? { firstError: t.firstError } : {}),
      responseBytesMean: n ? Math.round(t.bytes / n) : 0,
      ...summarize(t.latencies),
    };
  });
}

/** `count` requests one after another; latencies of the successful ones. */
export async function runSequential(
  client: GraphqlClient,
  next: () => string,
  count: number,
): Promise<LatencySummary & { errors: number; firstError?: string }> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  for (let i = 0; i < count; i++) {
    const body = next();
    const t = process.hrtime.bigint();
    try {
      const r = await client.post(body);
      if (looksOk(r)) latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      else {
        errors++;
        firstError ??= `HTTP ${r.status}: ${r.body.slice(0, 300)}`;
      }
    } catch (err) {
      errors++;
      firstError ??= (err as Error).message;
    }
  }
  return { ...summarize(latencies), errors, ...(firstError ? { firstError } : {}) };
}
