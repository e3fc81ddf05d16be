/**
 * The write path for readings arriving as items (GraphQL mutation, CSV rows): resolve meters,
 * validate each item (row-level errors reject that item, reported, and keep the rest), group
 * into day patches and merge them into the store.
 */
import { type ConnectionPool } from '@databases/pg';
import {
  type DayPatch,
  type MeterRef,
  PatchGrouper,
  type NormalizedReading,
  type ReadingInput,
  type Rejection,
  validateReading,
} from '../domain/readings';
import {
  createBatch,
  daysOf,
  ensurePartitions,
  finishBatch,
  retryOnConflict,
  writePatches,
  type WriteCounts,
} from '../storage/readings';
import { cachedRuleSets, VeeMeterCache, veeMeterOf, writeValidatedPatches } from '../storage/vee';
import { meterRef, metersBySerials } from '../storage/topology';
import { ReadingColumns, type ReadingSource } from '../domain/reading-columns';

export interface IngestCounts extends WriteCounts {
  rejected: number;
}

export interface IngestResult extends IngestCounts {
  batchId: number;
  /** the first `maxRejections` rejections, in input order */
  rejections: Rejection[];
}

export interface IngestOptions {
  source: string;
  format: string;
  createdBy?: string | null;
  now?: number;
  clockToleranceSeconds?: number;
  maxRejections?: number;
  /** run the VEE rules in each chunk's transaction (default true; MD_VEE) */
  vee?: boolean;
}

/** Caches meter look-ups across the chunks of one ingest. */
export class MeterResolver {
  private readonly cache = new Map<string, MeterRef | null>();
  /** the VEE view of the meters resolved, for the chunks' rules */
  readonly veeMeters = new VeeMeterCache();
  constructor(private readonly pool: ConnectionPool) {}

  async resolve(serials: Iterable<string>): Promise<void> {
    const missing = new Set<string>();
    for (const s of serials) if (!this.cache.has(s)) missing.add(s);
    if (missing.size === 0) return;
    const found = await metersBySerials(this.pool, [...missing]);
    for (const m of found) {
      this.cache.set(m.serial, meterRef(m));
      this.veeMeters.prime(veeMeterOf(m));
    }
    for (const s of missing) if (!this.cache.has(s)) this.cache.set(s, null);
  }

  get(serial: string): MeterRef | undefined {
    return this.cache.get(serial) ?? undefined;
  }
}

/**
 * Resolves the readings' meters and validates each: row-level errors become rejections, the
 * rest are grouped into day patches as they pass (no object is kept per reading). Rejection
 * indexes are the columns' positions, or `opts.indexes` for items.
 */
export async function validateItems(
  resolver: MeterResolver,
  input: readonly ReadingInput[] | ReadingSource,
  opts: { now: number; clockToleranceSeconds: number; indexes?: readonly number[] },
): Promise<{ patches: DayPatch[]; accepted: number; rejections: Rejection[] }> {
  const cols: ReadingSource = Array.isArray(input)
    ? ReadingColumns.from(input, opts.indexes ?? input.map((_, k) => k))
    : (input as ReadingSource);
  await resolver.resolve(serialsOf(cols));
  const grouper = new PatchGrouper();
  const rejections: Rejection[] = [];
  const accepted = validateInto(resolver, cols, opts, grouper, rejections);
  return { patches: grouper.patches(), accepted, rejections };
}

/**
 * The readings' meter serials. Files list a meter's rows together: each run's serial is added
 * once. A function of its own: the loop, optimised while it runs in an async function, sent
 * that function back to the interpreter after each `await` (code it had not yet seen run).
 */
function serialsOf(cols: ReadingSource): Set<string> {
  const serials = new Set<string>();
  let last: string | undefined;
  for (let k = 0; k < cols.length; k++) {
    const serial = cols.serialAt(k);
    if (serial !== last) serials.add((last = serial));
  }
  return serials;
}

/**
 * The per-reading loop: validated readings go to `grouper`, rejections to `rejections`;
 * returns how many were accepted. A function of its own that ends in nothing but its return:
 * a long loop is optimised while it runs, and code after it that had never run then sent every
 * later call back to the interpreter (allocating a number per value) at that point.
 */
function validateInto(
  resolver: MeterResolver,
  cols: ReadingSource,
  opts: { now: number; clockToleranceSeconds: number },
  grouper: PatchGrouper,
  rejections: Rejection[],
): number {
  const item: ReadingInput = {
    meterSerial: '',
    channel: '',
    intervalStart: 0,
    intervalSeconds: 0,
    value: 0,
    unit: '',
  };
  const scratch: NormalizedReading = {
    meterId: 0,
    channel: 1,
    ts: 0,
    intervalSeconds: 0,
    value: 0,
    quality: 0,
  };
  let accepted = 0;
  let lastSerial: string | undefined;
  let meter: MeterRef | undefined;
  for (let k = 0; k < cols.length; k++) {
    cols.fill(k, item);
    if (item.meterSerial !== lastSerial) meter = resolver.get((lastSerial = item.meterSerial));
    const r = validateReading(item, meter, opts, scratch);
    if ('code' in r) rejections.push({ index: cols.positionAt(k), ...r });
    else {
      grouper.add(r);
      accepted++;
    }
  }
  return accepted;
}

/**
 * Ingests one chunk of items into an open batch. `indexBase` maps item positions to the
 * caller's numbering (0-based item index for the mutation, line numbers for files).
 */
export async function ingestChunk(
  pool: ConnectionPool,
  resolver: MeterResolver,
  batchId: number,
  items: readonly ReadingInput[],
  opts: {
    now: number;
    clockToleranceSeconds: number;
    indexes?: readonly number[];
    /** run the VEE rules in the write's transaction (default true) */
    vee?: boolean;
  },
): Promise<{ counts: IngestCounts; rejections: Rejection[] }> {
  const { patches, rejections } = await validateItems(resolver, items, opts);
  if (opts.vee === false || patches.length === 0) {
    const written = await writePatches(pool, patches, batchId);
    return { counts: { ...written, rejected: rejections.length }, rejections };
  }
  // Everything outside the transaction first (the embedded database has one connection).
  await ensurePartitions(pool, daysOf(patches));
  const ruleSets = await cachedRuleSets(pool);
  const written = await retryOnConflict(() =>
    pool.tx((tx) =>
      writeValidatedPatches(pool, tx, patches, batchId, {
        ruleSets,
        now: opts.now,
        meterCache: resolver.veeMeters,
      }),
    ),
  );
  return { counts: { ...written, rejected: rejections.length }, rejections };
}

/** Ingests a whole batch of items (the mutation's shape): one ingest_batch, counts, reasons. */
export async function ingestItems(
  pool: ConnectionPool,
  items: readonly ReadingInput[],
  opts: IngestOptions,
): Promise<IngestResult> {
  const batchId = await createBatch(pool, opts);
  const { counts, rejections } = await ingestChunk(pool, new MeterResolver(pool), batchId, items, {
    now: opts.now ?? Date.now(),
    clockToleranceSeconds: opts.clockToleranceSeconds ?? 3600,
    vee: opts.vee,
  });
  await finishBatch(pool, batchId, counts);
  return { batchId, ...counts, rejections: rejections.slice(0, opts.maxRejections ?? 1000) };
}
