/**
 * POST /ingest/files: head-ends stream a file's body straight into the landing (no multipart,
 * no buffering), and get 202 with the file id once it is durable; 200 for a duplicate. The
 * server's guard authenticates the caller first; only the ingest roles may upload.
 */
import express from 'express';
import { describeIdentity } from '../auth/access';
import { AccessCode } from '../auth/errors';
import { identityOf } from '../auth/http';
import { hasAnyRole } from '../auth/identity';
import { Allow } from '../auth/roles';
import { ErrorCode, isMeterdataError } from '../errors';
import { COMM_PATHS, type CommPath } from '../domain/topology';
import { type Runtime } from '../runtime';
import { receiveFile } from './landing';
import { resolveProfile } from './profiles';

const STATUS_BY_CODE: Partial<Record<string, number>> = {
  [ErrorCode.FILE_TOO_LARGE]: 413,
  [ErrorCode.QUEUE_UNAVAILABLE]: 503,
  [ErrorCode.UNKNOWN_FORMAT]: 400,
  [ErrorCode.BAD_USER_INPUT]: 400,
};

function one(q: unknown): string | undefined {
  return typeof q === 'string' && q !== '' ? q : undefined;
}

export function ingestRouter(
  rt: Pick<Runtime, 'db' | 'queue' | 'config' | 'logger'>,
): express.Router {
  const router = express.Router();
  router.post('/ingest/files', async (req, res) => {
    const identity = identityOf(res);
    if (!hasAnyRole(identity, Allow.ingest)) {
      req.resume();
      const anonymous = identity.via === 'none';
      res.status(anonymous ? 401 : 403).json({
        code: anonymous ? AccessCode.UNAUTHENTICATED : AccessCode.FORBIDDEN,
        message: `${describeIdentity(identity)} may not upload files (allowed: ${Allow.ingest.join(', ')})`,
      });
      return;
    }
    const log = rt.logger.child({ route: 'ingest', subject: identity.subject });
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > rt.config.maxFileBytes) {
      res.status(413).json({
        code: ErrorCode.FILE_TOO_LARGE,
        message: `file of ${declared} bytes exceeds the ${rt.config.maxFileBytes}-byte limit (MD_MAX_FILE_BYTES)`,
      });
      req.resume();
      return;
    }
    try {
      const commPath = one(req.query.commPath);
      if (commPath !== undefined && !(COMM_PATHS as readonly string[]).includes(commPath)) {
        res.status(400).json({
          code: ErrorCode.BAD_USER_INPUT,
          message: `commPath must be one of ${COMM_PATHS.join(', ')}`,
        });
        req.resume();
        return;
      }
      const format = one(req.query.format) ?? 'csv';
      const profile = await resolveProfile(rt.db.pool, one(req.query.profile));
      const r = await receiveFile(
        rt.db.pool,
        req,
        {
          source: one(req.query.source) ?? 'http',
          sourceSystem: one(req.query.sourceSystem) ?? null,
          commPath: (commPath as CommPath | undefined) ?? null,
          format,
          profile,
          meter: one(req.query.meter) ?? null,
          fileName: one(req.query.fileName) ?? null,
        },
        {
          maxBytes: rt.config.maxFileBytes,
          chunkSize: rt.config.ingestChunkSize,
          keepRejections: rt.config.keepRejections,
          queue: rt.queue,
        },
      );
      const body = {
        fileId: String(r.fileId),
        status: r.status,
        duplicate: r.duplicate,
        items: r.items,
        chunks: r.chunks,
        parseRejected: r.parseRejected,
        sizeBytes: r.sizeBytes,
        sha256: r.sha256,
        ...(r.errorCode ? { code: r.errorCode, message: r.errorMessage } : {}),
      };
      if (r.status === 'failed' && !r.duplicate) res.status(422).json(body);
      else res.status(r.duplicate ? 200 : 202).json(body);
    } catch (err) {
      if (isMeterdataError(err)) {
        const status = STATUS_BY_CODE[err.code] ?? 400;
        if (status === 503) res.setHeader('Retry-After', '5');
        res.status(status).json({ code: err.code, message: err.message, ...(err.details ?? {}) });
      } else {
        log.error({ err }, 'ingest upload failed');
        res.setHeader('Retry-After', '5');
        res.status(503).json({
          code: ErrorCode.INTERNAL,
          message: 'the file could not be stored; nothing was kept — retry later',
        });
      }
      req.resume();
    }
  });
  return router;
}
