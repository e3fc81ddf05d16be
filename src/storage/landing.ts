/**
 * SQL of the landing: files and their bytes, staged chunks of parsed readings, rejections,
 * and the lease-based in-process queue over ingest_chunk.
 */
import { sql, type Queryable } from '@databases/pg';
import { type CommPath } from '../domain/topology';

export type FileStatus = 'received' | 'processing' | 'done' | 'failed';

export interface FileMeta {
  source: string;
  sourceSystem?: string | null;
  commPath?: CommPath | null;
  format: string;
  profile?: unknown;
  meterOverride?: string | null;
  fileName?: string | null;
  createdBy?: string | null;
}

export interface FileRecord {
  id: number;
  sha256: string;
  source: string;
  sourceSystem: string | null;
  commPath: CommPath | null;
  format: string;
  fileName: string | null;
  sizeBytes: number;
  receivedAt: Date;
  status: FileStatus;
  batchId: number | null;
  chunksTotal: number | null;
  chunksDone: number;
  itemsTotal: number | null;
  accepted: number;
  unchanged: number;
  changed: number;
  rejected: number;
  errorCode: string | null;
  errorMessage: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface RejectionRecord {
  position: number;
  code: string;
  message: string;
  meterSerial: string | null;
}

type Row = Record<string, unknown>;
const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export async function insertFile(tx: Queryable, meta: FileMeta): Promise<number> {
  const [r] = await tx.query(sql`
    INSERT INTO ingest_file (source, source_system, comm_path, format, profile, meter_override, file_name, created_by, size_bytes)
    VALUES (${meta.source}, ${meta.sourceSystem ?? null}, ${meta.commPath ?? null}, ${meta.format},
            ${meta.profile === undefined || meta.profile === null ? null : JSON.stringify(meta.profile)}::jsonb,
            ${meta.meterOverride ?? null}, ${meta.fileName ?? null}, ${meta.createdBy ?? null}, 0)
    RETURNING id`);
  return num(r.id);
}

export async function insertFilePart(
  tx: Queryable,
  fileId: number,
  seq: number,
  data: Buffer,
  compressed: boolean,
): Promise<void> {
  await tx.query(
    sql`INSERT INTO ingest_file_part (file_id, seq, data, compressed) VALUES (${fileId}, ${seq}, ${data}, ${compressed})`,
  );
}

export async function completeFileReceipt(
  tx: Queryable,
  fileId: number,
  r: {
    sha256: string;
    sizeBytes: number;
    status: FileStatus;
    batchId: number | null;
    chunksTotal: number;
    /** null: counted by the workers (files stored as parts) */
    itemsTotal: number | null;
    parseRejected: number;
    preamble?: Buffer | null;
    preambleLines?: number | null;
    errorCode?: string | null;
    errorMessage?: string | null;
  },
): Promise<void> {
  await tx.query(sql`
    UPDATE ingest_file
    SET sha256 = ${r.sha256}, size_bytes = ${r.sizeBytes}, status = ${r.status}, batch_id = ${r.batchId},
        chunks_total = ${r.chunksTotal}, items_total = ${r.itemsTotal}, parse_rejected = ${r.parseRejected},
        rejected = ${r.parseRejected}, preamble = ${r.preamble ?? null},
        preamble_lines = ${r.preambleLines ?? null}, error_code = ${r.errorCode ?? null}, error_message = ${r.errorMessage ?? null},
        finished_at = CASE WHEN ${r.status} IN ('done', 'failed') THEN now() END
    WHERE id = ${fileId}`);
}

/** The file that already holds this content (failed files don't count: they may be resent). */
export async function fileIdBySha(db: Queryable, sha256: string): Promise<number | null> {
  const rows: Row[] = await db.query(
    sql`SELECT id FROM ingest_file WHERE sha256 = ${sha256} AND status <> 'failed'`,
  );
  return rows.length ? num(rows[0]!.id) : null;
}

const FILE_SELECT = sql`
  SELECT f.*, (SELECT count(*) FROM ingest_chunk c WHERE c.file_id = f.id AND c.status = 'done') AS chunks_done
  FROM ingest_file f`;

function toFile(r: Row): FileRecord {
  return {
    id: num(r.id),
    sha256: r.sha256 as string,
    source: r.source as string,
    sourceSystem: (r.source_system as string | null) ?? null,
    commPath: (r.comm_path as CommPath | null) ?? null,
    format: r.format as string,
    fileName: (r.file_name as string | null) ?? null,
    sizeBytes: num(r.size_bytes),
    receivedAt: r.received_at as Date,
    status: r.status as FileStatus,
    batchId: numOrNull(r.batch_id),
    chunksTotal: numOrNull(r.chunks_total),
    chunksDone: num(r.chunks_done),
    itemsTotal: numOrNull(r.items_total),
    accepted: num(r.accepted),
    unchanged: num(r.unchanged),
    changed: num(r.changed),
    rejected: num(r.rejected),
    errorCode: (r.error_code as string | null) ?? null,
    errorMessage: (r.error_message as string | null) ?? null,
    startedAt: (r.started_at as Date | null) ?? null,
    finishedAt: (r.finished_at as Date | null) ?? null,
  };
}

export async function filesByIds(db: Queryable, ids: readonly number[]): Promise<FileRecord[]> {
  if (!ids.length) return [];
  const rows: Row[] = await db.query(sql`${FILE_SELECT} WHERE f.id = ANY(${ids}::bigint[])`);
  return rows.map(toFile);
}

export interface FileFilter {
  statuses?: FileStatus[] | null;
  formats?: string[] | null;
  source?: string | null;
  receivedFrom?: Date | null;
  receivedTo?: Date | null;
}

/** Newest first, keyset-paged by id. */
export async function listFiles(
  db: Queryable,
  filter: FileFilter,
  first: number,
  beforeId: number | null,
): Promise<{ files: FileRecord[]; hasNextPage: boolean }> {
  const conds = [sql`f.sha256 IS NOT NULL`];
  if (filter.statuses) conds.push(sql`f.status = ANY(${filter.statuses}::text[])`);
  if (filter.formats) conds.push(sql`f.format = ANY(${filter.formats}::text[])`);
  if (filter.source) conds.push(sql`f.source = ${filter.source}`);
  if (filter.receivedFrom) conds.push(sql`f.received_at >= ${filter.receivedFrom}`);
  if (filter.receivedTo) conds.push(sql`f.received_at < ${filter.receivedTo}`);
  if (beforeId !== null) conds.push(sql`f.id < ${beforeId}`);
  const rows: Row[] = await db.query(
    sql`${FILE_SELECT} WHERE ${sql.join(conds, sql` AND `)} ORDER BY f.id DESC LIMIT ${first + 1}`,
  );
  return { files: rows.slice(0, first).map(toFile), hasNextPage: rows.length > first };
}

export async function fileRejections(
  db: Queryable,
  fileId: number,
  limit: number,
): Promise<RejectionRecord[]> {
  const rows: Row[] = await db.query(sql`
    SELECT position, code, message, meter_serial FROM ingest_rejection
    WHERE file_id = ${fileId} ORDER BY position, code LIMIT ${limit}`);
  return rows.map((r) => ({
    position: num(r.position),
    code: r.code as string,
    message: r.message as string,
    meterSerial: (r.meter_serial as string | null) ?? null,
  }));
}

/** Keeps the first `keep` rejections of a file (by position); the rest are only counted. */
export async function insertRejections(
  tx: Queryable,
  fileId: number,
  rejections: ReadonlyArray<{ index: number; code: string; message: string; meterSerial?: string }>,
  keep: number,
): Promise<void> {
  const list = rejections.slice(0, keep);
  if (!list.length) return;
  await tx.query(sql`
    INSERT INTO ingest_rejection (file_id, position, code, message, meter_serial)
    SELECT ${fileId}, p, c, m, s
    FROM unnest(${list.map((r) => r.index)}::bigint[], ${list.map((r) => r.code)}::text[],
                ${list.map((r) => r.message)}::text[], ${list.map((r) => r.meterSerial ?? null)}::text[]) AS t(p, c, m, s)
    ON CONFLICT DO NOTHING`);
}

/** The stored parts of a file, in order, as stored (`compressed`: deflate-raw). */
export async function* readFileParts(
  db: Queryable,
  fileId: number,
): AsyncGenerator<{ data: Buffer; compressed: boolean }> {
  for (let seq = 0; ; seq++) {
    const rows: Row[] = await db.query(
      sql`SELECT data, compressed FROM ingest_file_part WHERE file_id = ${fileId} AND seq = ${seq}`,
    );
    if (!rows.length) return;
    yield { data: rows[0]!.data as Buffer, compressed: Boolean(rows[0]!.compressed) };
  }
}

// ---------------------------------------------------------------------------------------------
// Chunks

export async function insertChunk(
  tx: Queryable,
  fileId: number,
  seq: number,
  items: number,
  payload: Buffer,
  compressed: boolean,
): Promise<void> {
  await tx.query(sql`
    INSERT INTO ingest_chunk (file_id, seq, items, payload, compressed)
    VALUES (${fileId}, ${seq}, ${items}, ${payload}, ${compressed})`);
}

/** A chunk of an ESPI feed's reading segments (see espi-segments.ts). */
export async function insertSegmentChunk(
  tx: Queryable,
  fileId: number,
  seq: number,
  items: number,
  segments: object,
): Promise<void> {
  await tx.query(sql`
    INSERT INTO ingest_chunk (file_id, seq, items, segments)
    VALUES (${fileId}, ${seq}, ${items}, ${JSON.stringify(segments)}::jsonb)`);
}

/** Chunks that are the file's parts (seq = part seq), each with the line it starts on. */
export async function insertPartChunks(
  tx: Queryable,
  fileId: number,
  firstLines: readonly number[],
): Promise<void> {
  if (!firstLines.length) return;
  await tx.query(sql`
    INSERT INTO ingest_chunk (file_id, seq, items, first_line)
    SELECT ${fileId}, s - 1, 0, l FROM unnest(${firstLines}::bigint[]) WITH ORDINALITY AS t(l, s)`);
}

/** Stored parts `first` to `last` of a file, in order, as stored (`compressed`: deflate-raw). */
export async function readFilePartRange(
  db: Queryable,
  fileId: number,
  first: number,
  last: number,
): Promise<Array<{ data: Buffer; compressed: boolean }>> {
  const rows: Row[] = await db.query(sql`
    SELECT seq, data, compressed FROM ingest_file_part
    WHERE file_id = ${fileId} AND seq BETWEEN ${first} AND ${last} ORDER BY seq`);
  if (rows.length !== last - first + 1) {
    throw new Error(`file ${fileId} lacks parts between ${first} and ${last}`);
  }
  return rows.map((r) => ({ data: r.data as Buffer, compressed: Boolean(r.compressed) }));
}

/** What a worker needs to parse a file's parts. */
export interface FileParseMeta {
  format: string;
  profile: unknown;
  meterOverride: string | null;
  batchId: number;
  preamble: Buffer | null;
  preambleLines: number;
}

export async function fileParseMeta(db: Queryable, fileId: number): Promise<FileParseMeta | null> {
  const rows: Row[] = await db.query(sql`
    SELECT format, profile, meter_override, batch_id, preamble, preamble_lines
    FROM ingest_file WHERE id = ${fileId}`);
  if (!rows.length) return null;
  const r = rows[0]!;
  return {
    format: r.format as string,
    profile: r.profile ?? null,
    meterOverride: (r.meter_override as string | null) ?? null,
    batchId: num(r.batch_id),
    preamble: (r.preamble as Buffer | null) ?? null,
    preambleLines: num(r.preamble_lines ?? 0),
  };
}

export interface ChunkRecord {
  fileId: number;
  seq: number;
  items: number;
  /** set for a chunk that is a file part: the line the part starts on */
  firstLine: number | null;
  /** set for a chunk of an ESPI feed's reading segments (JSON, checked by its reader) */
  segments: unknown;
  status: 'pending' | 'done' | 'dead';
  deliveries: number;
  payload: Buffer | null;
  compressed: boolean;
}

/** A delivered chunk as takeChunk reads it. */
export interface TakenChunk {
  /** the chunk; its deliveries count this one */
  chunk: ChunkRecord;
  /** a part of a line-format file: its bytes as stored (the part has the chunk's number) */
  part: { data: Buffer; compressed: boolean } | null;
}

/**
 * Counts a delivery of a pending chunk and reads the chunk in the same statement, with its
 * part's bytes when it is a part of a line-format file. Committed on its own, so that a crash
 * while the chunk is processed counts too. null: the chunk is not pending (done or dead).
 */
export async function takeChunk(
  db: Queryable,
  fileId: number,
  seq: number,
): Promise<TakenChunk | null> {
  const rows: Row[] = await db.query(sql`
    WITH c AS (
      UPDATE ingest_chunk SET deliveries = deliveries + 1
      WHERE file_id = ${fileId} AND seq = ${seq} AND status = 'pending'
      RETURNING file_id, seq, items, status, deliveries, compressed, first_line, payload, segments)
    SELECT c.*, p.data AS part_data, p.compressed AS part_compressed
    FROM c LEFT JOIN ingest_file_part p
      ON c.first_line IS NOT NULL AND p.file_id = c.file_id AND p.seq = c.seq`);
  if (!rows.length) return null;
  const r = rows[0]!;
  const chunk = chunkRecord(r);
  if (chunk.firstLine !== null && (r.part_data === null || r.part_data === undefined)) {
    throw new Error(`file ${fileId} lacks part ${seq}`);
  }
  return {
    chunk,
    part:
      chunk.firstLine === null
        ? null
        : { data: r.part_data as Buffer, compressed: Boolean(r.part_compressed) },
  };
}

/** Locks a chunk for processing (the row lock makes a second, concurrent delivery wait). */
export async function lockChunk(
  tx: Queryable,
  fileId: number,
  seq: number,
): Promise<ChunkRecord | null> {
  const rows: Row[] = await tx.query(sql`
    SELECT file_id, seq, items, status, deliveries, compressed, first_line,
           NULL::bytea AS payload, NULL::jsonb AS segments
    FROM ingest_chunk
    WHERE file_id = ${fileId} AND seq = ${seq} FOR UPDATE`);
  return rows.length ? chunkRecord(rows[0]!) : null;
}

function chunkRecord(r: Row): ChunkRecord {
  return {
    fileId: num(r.file_id),
    seq: num(r.seq),
    items: num(r.items),
    firstLine: r.first_line === null || r.first_line === undefined ? null : num(r.first_line),
    segments: segmentsOf(r.segments),
    status: r.status as ChunkRecord['status'],
    deliveries: num(r.deliveries),
    payload: (r.payload as Buffer | null) ?? null,
    compressed: Boolean(r.compressed),
  };
}

function segmentsOf(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
}

export async function markChunkDone(
  tx: Queryable,
  fileId: number,
  seq: number,
  c: { accepted: number; unchanged: number; changed: number; rejected: number; items?: number },
  worker: string,
): Promise<void> {
  await tx.query(sql`
    UPDATE ingest_chunk
    SET status = 'done', payload = NULL, items = coalesce(${c.items ?? null}::integer, items), accepted = ${c.accepted}, unchanged = ${c.unchanged},
        changed = ${c.changed}, rejected = ${c.rejected}, worker = ${worker}, done_at = now(), leased_until = NULL
    WHERE file_id = ${fileId} AND seq = ${seq}`);
}

export async function markChunkDead(
  db: Queryable,
  fileId: number,
  seq: number,
  reason: string,
): Promise<void> {
  await db.tx(async (tx) => {
    await tx.query(sql`
      UPDATE ingest_chunk SET status = 'dead', error = ${reason}, leased_until = NULL
      WHERE file_id = ${fileId} AND seq = ${seq} AND status = 'pending'`);
    await tx.query(sql`
      UPDATE ingest_file
      SET status = 'failed', error_code = 'DEAD_LETTER',
          error_message = ${`chunk ${seq} failed after repeated deliveries: ${reason}`}, finished_at = now()
      WHERE id = ${fileId} AND status <> 'failed'`);
  });
}

export async function markFileProcessing(db: Queryable, fileId: number): Promise<void> {
  await db.query(sql`
    UPDATE ingest_file SET status = 'processing', started_at = coalesce(started_at, now())
    WHERE id = ${fileId} AND status = 'received'`);
}

/**
 * Closes a file once every chunk is done: its counts become the sums over its chunks (plus
 * the parser's rejections). No hot row is updated per chunk, so workers don't serialise.
 */
export async function finishFileIfComplete(db: Queryable, fileId: number): Promise<boolean> {
  const rows: Row[] = await db.query(sql`
    UPDATE ingest_file f
    SET status = 'done', finished_at = now(), accepted = s.accepted, unchanged = s.unchanged,
        changed = s.changed, rejected = f.parse_rejected + s.rejected,
        items_total = coalesce(f.items_total, s.items)
    FROM (SELECT coalesce(sum(items), 0) AS items, coalesce(sum(accepted), 0) AS accepted, coalesce(sum(unchanged), 0) AS unchanged,
                 coalesce(sum(changed), 0) AS changed, coalesce(sum(rejected), 0) AS rejected
          FROM ingest_chunk WHERE file_id = ${fileId}) s
    WHERE f.id = ${fileId} AND f.status IN ('received', 'processing')
      AND NOT EXISTS (SELECT 1 FROM ingest_chunk c WHERE c.file_id = ${fileId} AND c.status <> 'done')
    RETURNING f.id`);
  return rows.length > 0;
}

/** Live counts of an unfinished file (sums over its done chunks). */
export async function fileProgress(
  db: Queryable,
  fileId: number,
): Promise<{
  chunksDone: number;
  accepted: number;
  unchanged: number;
  changed: number;
  rejected: number;
}> {
  const [r] = await db.query(sql`
    SELECT count(*) FILTER (WHERE status = 'done') AS done, coalesce(sum(accepted), 0) AS a,
           coalesce(sum(unchanged), 0) AS u, coalesce(sum(changed), 0) AS c, coalesce(sum(rejected), 0) AS r
    FROM ingest_chunk WHERE file_id = ${fileId}`);
  return {
    chunksDone: num(r.done),
    accepted: num(r.a),
    unchanged: num(r.u),
    changed: num(r.c),
    rejected: num(r.r),
  };
}

// ---------------------------------------------------------------------------------------------
// The in-process queue: pending chunks are the queue; a lease replaces the consumer group.

export async function leasePendingChunks(
  db: Queryable,
  max: number,
  leaseSeconds: number,
): Promise<Array<{ fileId: number; seq: number }>> {
  const rows: Row[] = await db.query(sql`
    UPDATE ingest_chunk c SET leased_until = now() + make_interval(secs => ${leaseSeconds})
    FROM (SELECT file_id, seq FROM ingest_chunk
          WHERE status = 'pending' AND (leased_until IS NULL OR leased_until < now())
          ORDER BY file_id, seq LIMIT ${max} FOR UPDATE SKIP LOCKED) p
    WHERE c.file_id = p.file_id AND c.seq = p.seq
    RETURNING c.file_id, c.seq`);
  return rows.map((r) => ({ fileId: num(r.file_id), seq: num(r.seq) }));
}

/** Pending chunks that never reached a consumer (e.g. Redis was down when they were staged). */
export async function unqueuedChunks(
  db: Queryable,
  olderThanSeconds: number,
  max: number,
): Promise<Array<{ fileId: number; seq: number }>> {
  const rows: Row[] = await db.query(sql`
    SELECT c.file_id, c.seq FROM ingest_chunk c JOIN ingest_file f ON f.id = c.file_id
    WHERE c.status = 'pending' AND c.published_at IS NULL AND f.status IN ('received', 'processing')
      AND f.received_at < now() - make_interval(secs => ${olderThanSeconds})
    ORDER BY c.file_id, c.seq LIMIT ${max}`);
  return rows.map((r) => ({ fileId: num(r.file_id), seq: num(r.seq) }));
}

export async function markPublished(
  db: Queryable,
  refs: ReadonlyArray<{ fileId: number; seq: number }>,
): Promise<void> {
  if (!refs.length) return;
  await db.query(sql`
    UPDATE ingest_chunk c SET published_at = now()
    FROM unnest(${refs.map((r) => r.fileId)}::bigint[], ${refs.map((r) => r.seq)}::int[]) AS t(f, s)
    WHERE c.file_id = t.f AND c.seq = t.s AND c.published_at IS NULL`);
}

// ---------------------------------------------------------------------------------------------
// Named CSV profiles

export async function saveProfile(db: Queryable, name: string, profile: unknown): Promise<void> {
  await db.query(sql`
    INSERT INTO csv_profile (name, profile) VALUES (${name}, ${JSON.stringify(profile)}::jsonb)
    ON CONFLICT (name) DO UPDATE SET profile = excluded.profile, updated_at = now()`);
}

export async function loadProfile(db: Queryable, name: string): Promise<unknown | null> {
  const rows: Row[] = await db.query(sql`SELECT profile FROM csv_profile WHERE name = ${name}`);
  return rows.length ? rows[0]!.profile : null;
}

export async function listProfiles(
  db: Queryable,
): Promise<Array<{ name: string; profile: unknown; updatedAt: Date }>> {
  const rows: Row[] = await db.query(
    sql`SELECT name, profile, updated_at FROM csv_profile ORDER BY name`,
  );
  return rows.map((r) => ({
    name: r.name as string,
    profile: r.profile,
    updatedAt: r.updated_at as Date,
  }));
}

/**
 * The queue lost its entries (Redis restarted without its data): every pending chunk is to be
 * published again by the next sweep.
 */
export async function unpublishPending(db: Queryable): Promise<number> {
  const rows: Row[] = await db.query(sql`
    UPDATE ingest_chunk SET published_at = NULL
    WHERE status = 'pending' AND published_at IS NOT NULL
    RETURNING file_id`);
  return rows.length;
}

/** Files whose chunks are all done but that were not closed (a crash between the two). */
export async function unclosedCompleteFiles(db: Queryable, max: number): Promise<number[]> {
  const rows: Row[] = await db.query(sql`
    SELECT f.id FROM ingest_file f
    WHERE f.status IN ('received', 'processing') AND f.chunks_total > 0
      AND NOT EXISTS (SELECT 1 FROM ingest_chunk c WHERE c.file_id = f.id AND c.status <> 'done')
    ORDER BY f.id LIMIT ${max}`);
  return rows.map((r) => num(r.id));
}
