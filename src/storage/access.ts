/**
 * SQL of access control: API keys (stored as SHA-256 hashes) and the part of the topology a
 * customer's accounts hold (what a customer identity may see).
 */
import { sql, type Queryable } from '@databases/pg';

export interface ApiKeyRecord {
  id: number;
  name: string | null;
  role: string;
  accountCodes: string[];
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

type Row = Record<string, unknown>;

const KEY_COLUMNS = sql`id, name, role, account_codes, prefix, created_at, last_used_at, revoked_at`;

function toKey(r: Row): ApiKeyRecord {
  return {
    id: Number(r.id),
    name: (r.name as string | null) ?? null,
    role: r.role as string,
    accountCodes: (r.account_codes as string[]) ?? [],
    prefix: r.prefix as string,
    createdAt: r.created_at as Date,
    lastUsedAt: (r.last_used_at as Date | null) ?? null,
    revokedAt: (r.revoked_at as Date | null) ?? null,
  };
}

export async function insertApiKey(
  db: Queryable,
  k: {
    name: string | null;
    role: string;
    accountCodes: readonly string[];
    prefix: string;
    sha256: string;
  },
): Promise<ApiKeyRecord> {
  const [row] = await db.query(sql`
    INSERT INTO api_key (name, role, account_codes, prefix, secret_sha256)
    VALUES (${k.name}, ${k.role}, ${[...k.accountCodes]}::text[], ${k.prefix}, ${k.sha256})
    RETURNING ${KEY_COLUMNS}`);
  return toKey(row);
}

/** The key with this hash, revoked or not; null when there is none. */
export async function apiKeyByHash(db: Queryable, sha256: string): Promise<ApiKeyRecord | null> {
  const rows: Row[] = await db.query(
    sql`SELECT ${KEY_COLUMNS} FROM api_key WHERE secret_sha256 = ${sha256}`,
  );
  return rows.length ? toKey(rows[0]!) : null;
}

export async function apiKeyById(db: Queryable, id: number): Promise<ApiKeyRecord | null> {
  const rows: Row[] = await db.query(sql`SELECT ${KEY_COLUMNS} FROM api_key WHERE id = ${id}`);
  return rows.length ? toKey(rows[0]!) : null;
}

export async function listApiKeys(db: Queryable): Promise<ApiKeyRecord[]> {
  const rows: Row[] = await db.query(sql`SELECT ${KEY_COLUMNS} FROM api_key ORDER BY id`);
  return rows.map(toKey);
}

/** Revokes a key (once: a second revoke keeps the first time); null when no such key. */
export async function revokeApiKey(db: Queryable, id: number): Promise<ApiKeyRecord | null> {
  const rows: Row[] = await db.query(sql`
    UPDATE api_key SET revoked_at = COALESCE(revoked_at, now()) WHERE id = ${id}
    RETURNING ${KEY_COLUMNS}`);
  return rows.length ? toKey(rows[0]!) : null;
}

export async function touchApiKey(db: Queryable, id: number): Promise<void> {
  await db.query(sql`UPDATE api_key SET last_used_at = now() WHERE id = ${id}`);
}

/** Ids of everything a customer's accounts hold: accounts, service points, meters, and the nodes above them. */
export interface CustomerScopeRows {
  accountIds: number[];
  servicePointIds: number[];
  meterIds: number[];
  transformerIds: number[];
  feederIds: number[];
  substationIds: number[];
}

export async function customerScope(
  db: Queryable,
  accountCodes: readonly string[],
): Promise<CustomerScopeRows> {
  const out: CustomerScopeRows = {
    accountIds: [],
    servicePointIds: [],
    meterIds: [],
    transformerIds: [],
    feederIds: [],
    substationIds: [],
  };
  if (accountCodes.length === 0) return out;
  const rows: Row[] = await db.query(sql`
    SELECT a.id AS account_id, sp.id AS sp_id, m.id AS meter_id, t.id AS transformer_id,
           f.id AS feeder_id, f.substation_id
    FROM account a
    LEFT JOIN service_point sp ON sp.account_id = a.id
    LEFT JOIN transformer t ON t.id = sp.transformer_id
    LEFT JOIN feeder f ON f.id = t.feeder_id
    LEFT JOIN meter m ON m.service_point_id = sp.id
    WHERE a.code = ANY(${[...accountCodes]}::text[])`);
  const add = (list: number[], v: unknown) => {
    if (v !== null && v !== undefined) list.push(Number(v));
  };
  for (const r of rows) {
    add(out.accountIds, r.account_id);
    add(out.servicePointIds, r.sp_id);
    add(out.meterIds, r.meter_id);
    add(out.transformerIds, r.transformer_id);
    add(out.feederIds, r.feeder_id);
    add(out.substationIds, r.substation_id);
  }
  return out;
}
