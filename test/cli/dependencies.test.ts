/**
 * A dependency that subclasses String (ioredis 6 does, for RESP3 verbatim strings) makes V8
 * drop fast paths for every string in the process: our parsers, which read files character by
 * character, ran at half speed in any process that had loaded it. This loads the whole CLI, as
 * `meterdata` does, in a fresh Node process and looks at every module it loaded.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildCli } from '../helpers/processes';

const ROOT = path.join(__dirname, '..', '..');

test('no module the CLI loads builds a class on String', async () => {
  await buildCli();
  const script = `
    require('reflect-metadata');
    require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'))});
    require('ioredis');
    const found = [];
    let modules = 0;
    for (const [file, mod] of Object.entries(require.cache)) {
      modules++;
      const exported = mod && mod.exports;
      const values = exported && typeof exported === 'object' ? Object.values(exported) : [exported];
      for (const v of values) {
        if (typeof v === 'function' && v !== String && v.prototype instanceof String) found.push(file + ': ' + v.name);
      }
    }
    console.log(JSON.stringify({ modules, found }));
  `;
  const r = await promisify(execFile)(process.execPath, ['-e', script], {
    cwd: ROOT,
    timeout: 60_000,
  });
  const { modules, found } = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    modules: number;
    found: string[];
  };
  // The whole application was loaded (GraphQL, Apollo, the queue with ioredis, …).
  expect(modules).toBeGreaterThan(200);
  expect(found).toEqual([]);
});
