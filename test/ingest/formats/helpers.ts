/** Feeding parsers in tests: byte streams cut at awkward places, and collecting their chunks. */
import fs from 'node:fs';
import path from 'node:path';
import { type ReadingInput, type Rejection } from '../../../src/domain/readings';
import { type ParsedChunk } from '../../../src/ingest/formats/types';

export const FIXTURES = path.join(__dirname, '../../fixtures/formats');

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

/** The bytes of `data` as a stream of pieces of `size` bytes (1 cuts every multi-byte char). */
export async function* bytes(data: string | Buffer, size = 1 << 16): AsyncGenerator<Buffer> {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

export function fileBytes(name: string, highWaterMark = 1 << 16): AsyncIterable<Buffer> {
  return fs.createReadStream(fixture(name), { highWaterMark }) as AsyncIterable<Buffer>;
}

export interface Collected {
  items: ReadingInput[];
  positions: number[];
  rejections: Rejection[];
  chunks: ParsedChunk[];
}

export async function collect(gen: AsyncIterable<ParsedChunk>): Promise<Collected> {
  const out: Collected = { items: [], positions: [], rejections: [], chunks: [] };
  for await (const c of gen) {
    out.chunks.push(c);
    out.items.push(...c.items);
    out.positions.push(...c.positions);
    out.rejections.push(...c.rejections);
  }
  return out;
}

/** The MeterdataError a parse throws (fails the test when it does not throw). */
export async function parseError(
  gen: AsyncIterable<ParsedChunk>,
): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  try {
    const it = gen[Symbol.asyncIterator]();
    while (!(await it.next()).done) {
      // drain
    }
  } catch (e) {
    const err = e as { code?: string; message: string; details?: Record<string, unknown> };
    return { code: String(err.code), message: err.message, details: err.details ?? {} };
  }
  throw new Error('expected the parse to fail');
}

export function iso(ms: number | string): string {
  return new Date(ms).toISOString();
}
