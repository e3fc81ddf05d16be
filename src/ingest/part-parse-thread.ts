/**
 * Entry point of a parse thread (see part-parser.ts): parses the parts it is sent and answers
 * with their readings packed in typed arrays, whose buffers are transferred, not copied.
 */
import { parentPort } from 'node:worker_threads';
import { packedBuffers } from '../domain/reading-columns';
import { parsePart, type ParseJob, type ThreadReply } from './part-parser';

parentPort!.on('message', (m: { id: number; job: ParseJob }) => {
  // The part's bytes and text go back with the reply, transferred: this thread allocates
  // little on its heap once parsing is cheap, and collects it too seldom to free buffers
  // promptly (tens of MiB of dead buffers piled up); the worker thread, which drops them,
  // collects often.
  const spent: ArrayBufferLike[] = [];
  parsePart(m.job, spent).then(
    (r) => {
      const packed = r.readings.pack();
      const reply: ThreadReply = { id: m.id, ok: true, packed, rejections: r.rejections };
      const transfer = [
        ...packedBuffers(packed),
        ...new Set(spent.filter((b): b is ArrayBuffer => b instanceof ArrayBuffer && !pooled(b))),
      ];
      parentPort!.postMessage(reply, transfer);
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

/** Whether `b` may be a slab of Node's Buffer pool (which must not be transferred). */
function pooled(b: ArrayBuffer): boolean {
  return b.byteLength <= Buffer.poolSize;
}
