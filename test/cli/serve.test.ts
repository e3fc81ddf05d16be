/**
 * `meterdata serve --demo` in-process: the demo fleet (a fixed window) is loaded into an empty
 * database, the printed example operations run without errors against the live server, and a
 * stop request closes everything; a second start finds the fleet and loads nothing. Landed
 * files wait with `--no-worker` and are processed by serve's own worker otherwise.
 */
import { cliSandbox, type CliSandbox, Capture } from './harness';
import { main } from '../../src/cli/main';
import { developmentToken } from '../../src/auth/dev';
import { loadConfig } from '../../src/config';

let box: CliSandbox;

beforeAll(async () => {
  box = await cliSandbox();
});
afterAll(async () => box.cleanup());

/** Starts `serve`, hands the URL and output to `during`, then stops it. */
async function serving(
  args: string[],
  during: (url: string, out: { stdout: Capture; stderr: Capture }) => Promise<void>,
) {
  const stdout = new Capture();
  const stderr = new Capture();
  const stop = new AbortController();
  let failure: unknown;
  const listening = new Promise<string>((resolve) => {
    void main(['node', 'meterdata', 'serve', '--port', '0', ...args], {
      stdout,
      stderr,
      env: box.env,
      signal: stop.signal,
      onListening: resolve,
    })
      .catch((err) => {
        failure = err;
        resolve('');
      })
      .finally(() => done.resolve());
  });
  let resolveDone!: () => void;
  const done = { resolve: () => resolveDone() };
  const finished = new Promise<void>((r) => (resolveDone = r));
  const url = await listening;
  if (failure) throw failure;
  try {
    await during(url, { stdout, stderr });
  } finally {
    stop.abort();
    await finished;
  }
  if (failure) throw failure;
  return { stdout: stdout.text, stderr: stderr.text };
}

/** The development token `serve` prints (signed with the sandbox data directory's secret). */
async function auth(): Promise<Record<string, string>> {
  const t = await developmentToken(loadConfig(box.env));
  return { authorization: `Bearer ${t!.token}` };
}

async function gql(url: string, query: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await auth()) },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
}

/** The example operations: blocks starting with `# ` up to the next blank line. */
function examples(stdout: string): string[] {
  return stdout
    .split('\n\n')
    .map((b) => b.trim())
    .filter((b) => b.startsWith('# '));
}

/** Sends a head-end file as POST /ingest/files does; returns its id. */
async function upload(url: string, body: string): Promise<string> {
  const res = await fetch(url.replace(/graphql$/, 'ingest/files?format=csv'), {
    method: 'POST',
    headers: { 'content-type': 'text/csv', ...(await auth()) },
    body,
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { fileId: string }).fileId;
}

async function fileStatus(url: string, id: string): Promise<{ status: string; accepted: number }> {
  const r = await gql(url, `{ ingestFile(id: "${id}") { status accepted } }`);
  expect(r.errors).toBeUndefined();
  const f = (r.data as { ingestFile: { status: string; accepted: number } }).ingestFile;
  return { status: f.status.toLowerCase(), accepted: f.accepted };
}

const reading = (start: string) =>
  `meter_serial,channel,interval_start,interval_seconds,value,unit\nMD00000001,delivered,${start},900,0.5,kWh\n`;

test('serve --demo loads the fleet once and prints operations that work', async () => {
  const first = await serving(['--demo'], async (url, { stdout }) => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/);
    const ops = examples(stdout.text);
    expect(ops).toHaveLength(3);
    for (const op of ops) {
      const r = await gql(url, op);
      expect(r.errors).toBeUndefined();
      expect(r.data).toBeDefined();
    }
    // the fixed demo window: the first meter, a day and a week of it
    expect(ops[0]).toContain('meter(serial: "MD00000001")');
    expect(ops[0]).toContain('series(from: "2026-03-02T00:00:00Z", to: "2026-03-03T00:00:00Z")');
    expect(ops[1]).toMatch(
      /usage\(from: "2026-03-04T00:00:00-0[56]:00", to: "2026-03-11T00:00:00-0[45]:00"/,
    );
    expect(ops[2]).toContain('transformer(code: "TX000001")');
    // the first one shows a whole day of real data
    const day = (await gql(url, ops[0]!)).data as {
      meter: { series: { count: number; values: unknown[] } };
    };
    expect(day.meter.series.values).toHaveLength(96);
    expect(day.meter.series.count).toBeGreaterThan(80);
  });
  expect(first.stderr).toMatch(
    /demo: loaded 300 meters on \d+ transformers from 2026-03-01T00:00:00Z: [\d,]+ readings accepted/,
  );
  expect(first.stdout).toMatch(/meterdata is serving GraphQL at http/);
  expect(first.stdout).toMatch(/an ingest worker processes landed files here \(concurrency 1;/);

  // --no-worker: a landed file waits for a worker
  let queued = '';
  const second = await serving(['--demo', '--no-worker'], async (url) => {
    queued = await upload(url, reading('2026-03-20T00:00:00Z'));
    await new Promise((r) => setTimeout(r, 1500));
    expect(await fileStatus(url, queued)).toEqual({ status: 'received', accepted: 0 });
  });
  expect(second.stderr).toMatch(/demo: the database already has meters; nothing loaded/);
  expect(second.stdout).not.toMatch(/ingest worker/);

  // with its worker, serve processes what was queued and what arrives
  await serving(['--worker-concurrency', '2'], async (url) => {
    const fresh = await upload(url, reading('2026-03-20T00:15:00Z'));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const [a, b] = [await fileStatus(url, queued), await fileStatus(url, fresh)];
      if (a.status === 'done' && b.status === 'done') {
        expect([a.accepted, b.accepted]).toEqual([1, 1]);
        break;
      }
      if (Date.now() > deadline) throw new Error(`files not processed: ${a.status}, ${b.status}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });
}, 240_000);
