/**
 * Entry point of a parse thread (see part-parser.ts): parses the parts it is sent and answers
 * with their readings packed in typed arrays, whose buffers are transferred, not copied.
 */
import { parentPort } from 'node:worker_threads';
import { packedBuffers, packReadings } from '../domain/reading-columns';
import { parsePart, type ParseJob, type ThreadReply } from './part-parser';

parentPort!.on('message', (m: { id: number; job: ParseJob }) => {
  parsePart(m.job).then(
    (r) => {
      const packed = packReadings(r.readings);
      const reply: ThreadReply = { id: m.id, ok: true, packed, rejections: r.rejections };
      parentPort!.postMessage(reply, packedBuffers(packed));
    },
    (err: unknown) => {
      const reply: ThreadReply = {
        id: m.id,
        ok: false,
        message: err instanceof Error ? err.message : String(err),
      };
      parentPort!.postMessage(reply);
    },
  );
});
