/**
 * Numbered, forward-only SQL migrations (migrations/NNNN-name.sql), applied in order under an
 * advisory lock, each in its own transaction. Re-running is a no-op; an applied file whose
 * content changed is an error (write a new migration instead).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sql, type ConnectionPool } from '@databases/pg';
import { migrationsDir } from './paths';

export interface Migration {
  id: number;
  name: string;
  checksum: string;
  text: string;
}

export function readMigrations(dir = migrationsDir()): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d{4}-[a-z0-9-]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const text = fs.readFileSync(path.join(dir, file), 'utf8');
      return {
        id: Number(file.slice(0, 4)),
        name: file.replace(/\.sql$/, ''),
        checksum: crypto.createHash('sha256').update(text).digest('hex'),
        text,
      };
    });
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

const LOCK_KEY = 7_314_159_265;

export async function migrate(pool: ConnectionPool, dir?: string): Promise<MigrateResult> {
  const migrations = readMigrations(dir);
  const applied: string[] = [];
  let alreadyApplied = 0;
  await pool.task(async (conn) => {
    await conn.query(sql`SELECT pg_advisory_lock(${LOCK_KEY})`);
    try {
      await conn.query(sql`
        CREATE TABLE IF NOT EXISTS meterdata_migration (
          id integer PRIMARY KEY,
          name text NOT NULL,
          checksum text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
      const rows: Array<{ id: number; name: string; checksum: string }> = await conn.query(
        sql`SELECT id, name, checksum FROM meterdata_migration ORDER BY id`,
      );
      const done = new Map(rows.map((r) => [r.id, r]));
      for (const m of migrations) {
        const prev = done.get(m.id);
        if (prev) {
          if (prev.checksum !== m.checksum) {
            throw new Error(
              `migration ${m.name} was changed after it was applied (checksum ${prev.checksum.slice(0, 12)} in the database, ${m.checksum.slice(0, 12)} on disk); migrations are forward-only: add a new one instead`,
            );
          }
          alreadyApplied++;
          continue;
        }
        await conn.tx(async (tx) => {
          await tx.query(sql.file(path.join(dir ?? migrationsDir(), `${m.name}.sql`)));
          await tx.query(
            sql`INSERT INTO meterdata_migration (id, name, checksum) VALUES (${m.id}, ${m.name}, ${m.checksum})`,
          );
        });
        applied.push(m.name);
      }
    } finally {
      await conn.query(sql`SELECT pg_advisory_unlock(${LOCK_KEY})`);
    }
  });
  return { applied, alreadyApplied };
}
