/**
 * A fresh, migrated database per test file: embedded PGlite in memory by default, or a new
 * database on the PostgreSQL server named by DATABASE_URL (dropped afterwards).
 */
import crypto from 'node:crypto';
import createConnectionPool, { sql } from '@databases/pg';
import { openDatabase, type Database, type OpenOptions } from '../../src/storage/db';
import { migrate } from '../../src/storage/migrate';

export const usingPostgres = Boolean(process.env.DATABASE_URL);

export interface TestDatabase extends Database {
  name: string;
}

export async function openTestDatabase(
  opts: {
    migrate?: boolean;
    onQueryStart?: OpenOptions['onQueryStart'];
  } = {},
): Promise<TestDatabase> {
  let db: Database;
  let name = 'pglite';
  let dropDb: (() => Promise<void>) | undefined;
  if (process.env.DATABASE_URL) {
    name = `md_test_${crypto.randomBytes(6).toString('hex')}`;
    const admin = createConnectionPool({
      connectionString: process.env.DATABASE_URL,
      poolSize: 1,
      bigIntMode: 'number',
    });
    await admin.query(sql`CREATE DATABASE ${sql.ident(name)}`);
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/${name}`;
    db = await openDatabase({
      databaseUrl: url.toString(),
      poolSize: 4,
      ...(opts.onQueryStart ? { onQueryStart: opts.onQueryStart } : {}),
    });
    dropDb = async () => {
      await admin.query(sql`DROP DATABASE IF EXISTS ${sql.ident(name)} WITH (FORCE)`);
      await admin.dispose();
    };
  } else {
    db = await openDatabase(opts.onQueryStart ? { onQueryStart: opts.onQueryStart } : {});
  }
  if (opts.migrate !== false) await migrate(db.pool);
  return {
    ...db,
    name,
    async close() {
      await db.close();
      if (dropDb) await dropDb();
    },
  };
}
