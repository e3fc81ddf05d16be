/** Landed files: one by id, a filtered page of them, and each file's first rejections. */
import { GraphQLJSONObject } from 'graphql-scalars';
import {
  Arg,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { Allow } from '../auth/roles';
import { storeProfile } from '../ingest/profiles';
import { type Context } from '../context';
import { ErrorCode, MeterdataError } from '../errors';
import {
  type FileRecord,
  type FileStatus,
  fileProgress,
  fileRejections,
  filesByIds,
  listFiles,
  listProfiles,
} from '../storage/landing';
import {
  IngestFile,
  IngestFileConnection,
  IngestFileFilter,
  IngestRejection,
  CsvProfileEntry,
} from '../schema/file.type';
import { decodeCursor, encodeCursor, parseId } from './util';

const MAX_FILES_PAGE = 500;
const MAX_REJECTIONS = 1000;

type FileView = Omit<IngestFile, 'rejections'> & { fileId: number };

/** Unfinished files show live counts (sums over their committed chunks). */
async function view(ctx: Context, f: FileRecord): Promise<FileView> {
  let counts = {
    accepted: f.accepted,
    unchanged: f.unchanged,
    changed: f.changed,
    rejected: f.rejected,
  };
  if (f.status === 'received' || f.status === 'processing') {
    const p = await fileProgress(ctx.pool, f.id);
    counts = {
      accepted: p.accepted,
      unchanged: p.unchanged,
      changed: p.changed,
      rejected: f.rejected + p.rejected,
    };
  }
  return {
    fileId: f.id,
    id: String(f.id),
    sha256: f.sha256,
    source: f.source,
    sourceSystem: f.sourceSystem,
    commPath: f.commPath,
    format: f.format,
    fileName: f.fileName,
    sizeBytes: f.sizeBytes,
    receivedAt: f.receivedAt,
    status: f.status,
    chunksTotal: f.chunksTotal,
    chunksDone: f.chunksDone,
    itemsTotal: f.itemsTotal,
    ...counts,
    errorCode: f.errorCode,
    errorMessage: f.errorMessage,
    startedAt: f.startedAt,
    finishedAt: f.finishedAt,
  };
}

@Resolver(() => IngestFile)
export class IngestFileResolver {
  @Authorized(Allow.files)
  @Query(() => IngestFile, { nullable: true, description: 'A landed file by id; null when none.' })
  async ingestFile(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<FileView | null> {
    const n = parseId(id);
    if (n === undefined) return null;
    const [f] = await filesByIds(ctx.pool, [n]);
    return f && f.sha256 ? view(ctx, f) : null;
  }

  @Authorized(Allow.files)
  @Query(() => IngestFileConnection, {
    description: `Landed files, newest first, filtered, in pages of \`first\` (at most ${MAX_FILES_PAGE}).`,
  })
  async ingestFiles(
    @Arg('filter', () => IngestFileFilter, { nullable: true }) filter: IngestFileFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) firstArg: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: Context,
  ): Promise<{ nodes: FileView[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }> {
    const first = firstArg ?? 50;
    if (!Number.isInteger(first) || first < 0 || first > MAX_FILES_PAGE) {
      throw new MeterdataError(
        ErrorCode.BAD_USER_INPUT,
        `first must be between 0 and ${MAX_FILES_PAGE} (got ${first})`,
      );
    }
    const beforeId = after === null || after === undefined ? null : decodeCursor(after);
    const page = await listFiles(
      ctx.pool,
      {
        statuses: (filter?.status as FileStatus[] | null | undefined) ?? null,
        formats: filter?.format ?? null,
        source: filter?.source ?? null,
        receivedFrom: filter?.receivedFrom ?? null,
        receivedTo: filter?.receivedTo ?? null,
      },
      first,
      beforeId,
    );
    const nodes = await Promise.all(page.files.map((f) => view(ctx, f)));
    const last = page.files[page.files.length - 1];
    return {
      nodes,
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor(last.id) : null },
    };
  }

  @Authorized(Allow.files)
  @FieldResolver(() => [IngestRejection])
  async rejections(
    @Root() file: FileView,
    @Arg('first', () => Int, { nullable: true, defaultValue: 100 }) first: number | null,
    @Ctx() ctx: Context,
  ): Promise<IngestRejection[]> {
    const n = first ?? 100;
    if (!Number.isInteger(n) || n < 0 || n > MAX_REJECTIONS) {
      throw new MeterdataError(
        ErrorCode.BAD_USER_INPUT,
        `first must be between 0 and ${MAX_REJECTIONS} (got ${n})`,
      );
    }
    return fileRejections(ctx.pool, file.fileId, n);
  }

  @Authorized(Allow.files)
  @Query(() => [CsvProfileEntry], {
    description: 'Saved CSV mapping profiles (built-ins not listed).',
  })
  async csvProfiles(@Ctx() ctx: Context): Promise<CsvProfileEntry[]> {
    return listProfiles(ctx.pool) as Promise<CsvProfileEntry[]>;
  }

  @Authorized(Allow.manage)
  @Mutation(() => CsvProfileEntry, {
    description:
      'Validates and saves a named CSV mapping profile (docs/formats-headend.md); uploads use it with ?profile=NAME.',
  })
  async saveCsvProfile(
    @Arg('name') name: string,
    @Arg('profile', () => GraphQLJSONObject) profile: Record<string, unknown>,
    @Ctx() ctx: Context,
  ): Promise<CsvProfileEntry> {
    await storeProfile(ctx.pool, name, profile);
    return { name, profile, updatedAt: new Date() };
  }
}
