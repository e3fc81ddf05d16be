/**
 * ESPI feeds landed as parts, like the line formats. A feed's readings cannot be parsed from an
 * arbitrary slice of it: what a reading means (its meter, unit, direction, scale) is set by
 * entries before it. So the landing reads the feed's structure — every element through the XML
 * parser except the IntervalReadings, which are checked against their template without
 * converting a value — and records where its runs of readings are: a segment is a byte range
 * of the file holding only consecutive IntervalReadings of one IntervalBlock (and white space
 * between them), with the block's meter and ReadingType and the ordinal of its first reading.
 * A chunk is a list of segments; a worker reads the file's stored parts under them and parses
 * just those readings (readSegments), in its parse thread.
 *
 * Readings the template does not cover (attributes, entities, CDATA, unusual children) are
 * parsed at the landing by the XML parser as before and staged as parsed chunks.
 */
import { isAscii } from 'node:buffer';
import { plainDecimal, type Rejection } from '../../domain/readings';
import type { ReadingColumns } from '../../domain/reading-columns';
import { ChunkBuilder, chunkSizeOf, maxRecordBytesOf } from './common';
import { compact, compactAt, matchIntervalReading, MORE } from './espi-readings';
import {
  emitReading,
  EspiFeed,
  type Interpretation,
  interpretReadingType,
  type ReadingTypeFields,
} from './espi';
import type { ParsedChunk, ParseOptions } from './types';
import { decodeUtf8 } from './utf8';

/** A block's meter serial and its ReadingType's fields, as the feed gave them. */
export interface SegmentContext {
  m: string;
  rt: ReadingTypeFields;
}

/** [byte start, byte end, ordinal of the first reading, readings, context index] */
export type Segment = [number, number, number, number, number];

/** What a segment chunk stores (ingest_chunk.segments). */
export interface EspiSegments {
  v: 1;
  /** bytes per stored part of the file (the last part may be shorter) */
  partBytes: number;
  ctx: SegmentContext[];
  s: Segment[];
}

/**
 * Collects segments and their contexts into chunks of about `size` readings. A chunk that has
 * its size ends where the meter changes (at twice its size whatever the meter), so that a
 * meter's readings are rarely split between two chunks: two chunks with the same meter-day
 * wait for each other's commit, and the rules validate that meter twice.
 */
export class SegmentBuilder {
  private ctx: SegmentContext[] = [];
  private lastMeter: string | undefined;
  private readonly ready: Array<{ segments: EspiSegments; readings: number }> = [];
  /** context index by meter, then by ReadingType fields (one object per ReadingType entry) */
  private ctxIndex = new Map<string, Map<ReadingTypeFields, number>>();
  private segs: Segment[] = [];
  private open: Segment | null = null;
  private readings = 0;

  constructor(
    private readonly size: number,
    private readonly partBytes: number,
  ) {}

  /**
   * Readings at bytes [start, end) with ordinals from `first`, of `meter` and the ReadingType
   * whose fields are `rt`. Joined to the open segment when they continue it.
   */
  add(
    meter: string,
    rt: ReadingTypeFields,
    start: number,
    end: number,
    first: number,
    count: number,
  ): void {
    if (
      this.readings >= this.size &&
      (meter !== this.lastMeter || this.readings >= 2 * this.size)
    ) {
      this.ready.push(this.take());
    }
    this.lastMeter = meter;
    let byRt = this.ctxIndex.get(meter);
    if (!byRt) this.ctxIndex.set(meter, (byRt = new Map()));
    let c = byRt.get(rt);
    if (c === undefined) {
      c = this.ctx.length;
      this.ctx.push({ m: meter, rt });
      byRt.set(rt, c);
    }
    const o = this.open;
    if (o && o[4] === c && o[1] <= start && o[2] + o[3] === first) {
      o[1] = end;
      o[3] += count;
    } else {
      this.open = [start, end, first, count, c];
      this.segs.push(this.open);
    }
    this.readings += count;
  }

  /** The next reading starts a new segment (something other than a reading came between). */
  close(): void {
    this.open = null;
  }

  /** The chunks ended so far (see the class), each once. */
  *takeReady(): Generator<{ segments: EspiSegments; readings: number }> {
    while (this.ready.length) yield this.ready.shift()!;
  }

  get empty(): boolean {
    return this.segs.length === 0;
  }

  /** The segments so far as one chunk, and how many readings it holds. */
  take(): { segments: EspiSegments; readings: number } {
    const out = {
      segments: { v: 1 as const, partBytes: this.partBytes, ctx: this.ctx, s: this.segs },
      readings: this.readings,
    };
    this.ctx = [];
    this.ctxIndex = new Map();
    this.segs = [];
    this.readings = 0;
    this.close();
    return out;
  }
}

/** What the landing takes from a feed: parsed readings, or segments left in the file. */
export type LandedEspi =
  | { kind: 'parsed'; chunk: ParsedChunk }
  | { kind: 'segments'; segments: EspiSegments; readings: number };

/**
 * Reads a feed at the landing: its structure is checked as parseEspi checks it (the same
 * structural errors, at the same lines), readings in the template become segments of about
 * `chunkSize` readings, and any others are parsed into chunks.
 */
export async function* landEspi(
  input: AsyncIterable<Buffer>,
  opts: ParseOptions & { partBytes: number },
): AsyncGenerator<LandedEspi> {
  const chunkSize = chunkSizeOf(opts);
  const maxRecordBytes = maxRecordBytesOf(opts);
  const parsed = new ChunkBuilder(chunkSize);
  const segments = new SegmentBuilder(chunkSize, opts.partBytes);
  const feed = new EspiFeed(parsed, opts.meter?.trim() || undefined, maxRecordBytes, segments);
  let bytesRead = 0;
  for await (const piece of decodeUtf8(input)) {
    feed.write(piece);
    bytesRead = piece.byteEnd;
    for (const chunk of parsed.drain(bytesRead)) yield { kind: 'parsed', chunk };
    for (const c of segments.takeReady()) yield { kind: 'segments', ...c };
  }
  feed.close();
  for (const chunk of parsed.flush(bytesRead)) yield { kind: 'parsed', chunk };
  for (const c of segments.takeReady()) yield { kind: 'segments', ...c };
  if (!segments.empty) yield { kind: 'segments', ...segments.take() };
}

/** Checks a stored chunk's segments value (it comes from the database). */
export function isEspiSegments(v: unknown): v is EspiSegments {
  const x = v as EspiSegments;
  return (
    typeof x === 'object' &&
    x !== null &&
    x.v === 1 &&
    Number.isInteger(x.partBytes) &&
    x.partBytes > 0 &&
    Array.isArray(x.ctx) &&
    Array.isArray(x.s)
  );
}

/** The stored parts a chunk's segments lie in: first and last part seq. */
export function partsOf(seg: EspiSegments): { first: number; last: number } {
  let lo = Infinity;
  let hi = 0;
  for (const s of seg.s) {
    if (s[0] < lo) lo = s[0];
    if (s[1] > hi) hi = s[1];
  }
  if (!seg.s.length) return { first: 0, last: -1 };
  return { first: Math.floor(lo / seg.partBytes), last: Math.floor((hi - 1) / seg.partBytes) };
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

/** The integer written by the ASCII digits text[from, to) (at most 15 of them: exact). */
function intOf(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + (text.charCodeAt(i) - 48);
  return n;
}

/**
 * A compact reading at `at` whose numbers are plain and in range, added to `out` without
 * making a string or an object: returns where it ends (after the white space that follows),
 * or -1 for the general way (any other shape, and every reading that is to be rejected).
 */
function readCompact(
  text: string,
  at: number,
  out: ChunkBuilder,
  position: number,
  meter: string,
  interp: Interpretation,
): number {
  if (!interp.ok) return -1;
  const end = compactAt(text, at);
  if (end < 0) return -1;
  const { d0, d1, s0, s1, v0, v1 } = compact;
  if (d1 - d0 < 1 || d1 - d0 > 15 || s1 - s0 < 1 || s1 - s0 > 15) return -1;
  const duration = intOf(text, d0, d1);
  if (duration <= 0 || duration > 86400) return -1;
  const v = plainDecimal(text, v0, v1);
  if (v === undefined || Math.abs(v) > 1e12) return -1;
  out.columns.push(
    meter,
    interp.channel,
    intOf(text, s0, s1) * 1000,
    duration,
    interp.convert(v),
    interp.unit,
    undefined,
    position,
  );
  return end;
}

/** The text of file bytes [start, end) from `parts` (their file offsets in `offsets`). */
function textOf(parts: Buffer[], offsets: number[], start: number, end: number): string {
  let i = 0;
  while (i + 1 < parts.length && offsets[i + 1]! <= start) i++;
  const from = start - offsets[i]!;
  let bytes: Buffer;
  if (end - offsets[i]! <= parts[i]!.length) bytes = parts[i]!.subarray(from, end - offsets[i]!);
  else {
    const pieces: Buffer[] = [parts[i]!.subarray(from)];
    let have = parts[i]!.length - from;
    for (let k = i + 1; k < parts.length && have < end - start; k++) {
      const take = Math.min(parts[k]!.length, end - start - have);
      pieces.push(parts[k]!.subarray(0, take));
      have += take;
    }
    bytes = Buffer.concat(pieces);
  }
  if (bytes.length !== end - start) {
    throw new Error(`segment [${start}, ${end}) lies outside the parts read`);
  }
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}

/**
 * Parses a segment chunk's readings from `parts`, the file's stored parts from offset `base`
 * on (from partsOf(seg).first). Values, timestamps and quality codes are checked here, as the
 * full parser checks them: a bad one rejects its reading. A segment that does not hold the
 * readings the landing counted is an error (the chunk is retried, then dead-lettered).
 */
export function readSegments(
  parts: Buffer | Buffer[],
  base: number,
  seg: EspiSegments,
): { readings: ReadingColumns; rejections: Rejection[] } {
  const list = Array.isArray(parts) ? parts : [parts];
  const offsets: number[] = [];
  let at = base;
  for (const p of list) {
    offsets.push(at);
    at += p.length;
  }
  const out = new ChunkBuilder(Number.MAX_SAFE_INTEGER);
  const interps = seg.ctx.map((c) => interpretReadingType(c.rt));
  for (const [start, end, first, count, ci] of seg.s) {
    const ctx = seg.ctx[ci];
    if (!ctx || start < base || end > at || end < start) {
      throw new Error(`segment [${start}, ${end}) lies outside the parts read`);
    }
    const text = textOf(list, offsets, start, end);
    const interp = interps[ci]!;
    let p = 0;
    let n = 0;
    while (p < text.length) {
      const fast = readCompact(text, p, out, first + n, ctx.m, interp);
      if (fast >= 0) {
        n++;
        p = fast;
        continue;
      }
      const m = matchIntervalReading(text, p);
      if (m === null || m === MORE) {
        throw new Error(`segment [${start}, ${end}) holds something other than readings`);
      }
      emitReading(out, first + n, m.reading, ctx.m, interp);
      n++;
      p = m.end;
      while (p < text.length && isSpace(text.charCodeAt(p))) p++;
    }
    if (n !== count) {
      throw new Error(`segment [${start}, ${end}) holds ${n} readings, not ${count}`);
    }
  }
  const chunk = out.take(0);
  return { readings: chunk.readings, rejections: chunk.rejections };
}
