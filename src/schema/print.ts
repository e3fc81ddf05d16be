/**
 * The schema as SDL, sorted so diffs show only real changes. test/api/schema.test.ts compares
 * it with the committed src/schema/schema.graphql; regenerate that file with
 * `UPDATE_SCHEMA=1 npm run jest -- test/api/schema.test.ts`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { packageRoot } from '../storage/paths';
import { buildMeterdataSchema } from './index';

export async function printMeterdataSchema(): Promise<string> {
  const schema = await buildMeterdataSchema();
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

/** Where the committed SDL lives. */
export function committedSchemaPath(): string {
  return path.join(packageRoot(), 'src', 'schema', 'schema.graphql');
}

/** Rewrites the committed SDL; returns whether it changed. */
export async function writeMeterdataSchema(file = committedSchemaPath()): Promise<boolean> {
  const sdl = await printMeterdataSchema();
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
  if (old === sdl) return false;
  fs.writeFileSync(file, sdl);
  return true;
}
