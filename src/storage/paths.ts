/** Locates files shipped with the package (migrations), from src/ under Jest or dist/ when built. */
import fs from 'node:fs';
import path from 'node:path';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj) && JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'meterdata') {
      root = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error(`cannot find the meterdata package root above ${__dirname}`);
    dir = parent;
  }
}

export function migrationsDir(): string {
  return path.join(packageRoot(), 'migrations');
}
