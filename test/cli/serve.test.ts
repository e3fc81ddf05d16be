/**
 * `meterdata serve --demo` in-process: the demo fleet is loaded into an empty database, the
 * printed example operations run without errors against the live server, and a stop request
 * closes everything; a second start finds the fleet and loads nothing.
 */
import { cliSandbox, type CliSandbox, Capture } from './harness';
import { main } from '../../src/cli/main';

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

async function gql(url: string, query: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
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
    // the first one shows a whole day of real data
    const day = (await gql(url, ops[0]!)).data as {
      meter: { series: { count: number; values: unknown[] } };
    };
    expect(day.meter.series.values).toHaveLength(96);
    expect(day.meter.series.count).toBeGreaterThan(80);
  });
  expect(first.stderr).toMatch(
    /demo: loaded 300 meters on \d+ transformers from [\dT:Z-]+: [\d,]+ readings accepted/,
  );
  expect(first.stdout).toMatch(/meterdata is serving GraphQL at http/);

  const second = await serving(['--demo'], async () => {});
  expect(second.stderr).toMatch(/demo: the database already has meters; nothing loaded/);
}, 240_000);
