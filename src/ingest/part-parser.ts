/**
 * Parsing a stored part of a line-format file (CSV, CMEP), or the segments of readings of an
 * ESPI feed (espi-segments.ts), in the worker's thread or in a
 * parse thread beside it. A worker's main thread validates, merges, runs VEE and talks to the
 * database; parsing is the largest share of its CPU and needs nothing of that, so a parse
 * thread takes it to the core PostgreSQL leaves idle. Parsed readings come back packed in typed
 * arrays, transferred without a copy.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import type { Rejection } from '../domain/readings';
import {
  PackedSource,
  ReadingColumns,
  type PackedReadings,
  type ReadingSource,
} from '../domain/reading-columns';
import type { Logger } from '../logger';
import { type CsvProfile, type FormatName, type FormatParser, parserFor } from './formats';
import { bufferOf } from './formats/common';
import { type EspiSegments, readSegments } from './formats/espi-segments';

const inflate = promisify(zlib.inflateRaw);

/** items per parser chunk while a part is parsed (a part is one transaction whatever its size) */
const PART_CHUNK_ITEMS = 1 << 30;

export interface PartJob {
  format: FormatName;
  profile: CsvProfile | null;
  meter: string | null;
  /** the part's bytes as stored */
  data: Uint8Array;
  compressed: boolean;
  /** the file's preamble (its header), parsed before every part after the first */
  preamble: Uint8Array | null;
  preambleLines: number;
  seq: number;
  /** the file line number of the part's first line */
  firstLine: number;
}

/** A chunk of an ESPI feed: segments of readings in the file's stored parts (espi-segments.ts). */
export interface SegmentJob {
  segments: EspiSegments;
  /** the stored parts the segments lie in, in order, as stored */
  parts: Array<{ data: Uint8Array; compressed: boolean }>;
  /** the file byte offset of the first of them */
  base: number;
}

export type ParseJob = PartJob | SegmentJob;

export interface ParsedPart<R = ReadingColumns> {
  readings: R;
  rejections: Rejection[];
}

const parsers = new Map<string, FormatParser>();

function parserOf(job: PartJob): FormatParser {
  const key = `${job.format}:${job.profile ? JSON.stringify(job.profile) : ''}`;
  let p = parsers.get(key);
  if (!p) {
    p = parserFor(job.format, job.format === 'csv' && job.profile ? job.profile : undefined);
    if (parsers.size > 16) parsers.clear();
    parsers.set(key, p);
  }
  return p;
}

/**
 * Parses one part. A part after the first is parsed behind the file's preamble, whose own
 * lines are then dropped, and line numbers are shifted to the file's. With `spent`, the
 * buffers of the job's bytes and of their inflated text are added to it once parsed (see
 * part-parse-thread.ts).
 */
export async function parsePart(job: ParseJob, spent?: ArrayBufferLike[]): Promise<ParsedPart> {
  if ('segments' in job) return parseSegments(job, spent);
  const bytes = bufferOf(job.data);
  const body = job.compressed ? await inflate(bytes, INFLATE_OPTIONS) : bytes;
  const lead = job.seq > 0 && job.preamble ? bufferOf(job.preamble) : null;
  const skip = lead ? job.preambleLines : 0;
  const delta = lead ? job.firstLine - skip - 1 : job.firstLine - 1;
  const input = (async function* () {
    if (lead) yield lead;
    yield body;
  })();
  let readings: ReadingColumns | null = null;
  const rejections: Rejection[] = [];
  for await (const c of parserOf(job)(input, {
    chunkSize: PART_CHUNK_ITEMS,
    meter: job.meter ?? undefined,
  })) {
    // The preamble's own lines are a header: nothing of them is a reading of this part.
    const cols = c.readings;
    if (!readings && (skip === 0 || cols.length === 0 || cols.positionAt(0) > skip)) {
      for (let k = 0; k < cols.length; k++) cols.setPosition(k, cols.positionAt(k) + delta);
      readings = cols;
    } else {
      readings ??= new ReadingColumns();
      for (let k = 0; k < cols.length; k++) {
        const pos = cols.positionAt(k);
        if (pos > skip) readings.copyFrom(cols, k, pos + delta);
      }
    }
    for (const r of c.rejections) {
      if (r.index > skip) rejections.push({ ...r, index: r.index + delta });
    }
  }
  spent?.push(bytes.buffer, body.buffer, ...(lead ? [lead.buffer] : []));
  return { readings: readings ?? new ReadingColumns(), rejections };
}

async function parseSegments(job: SegmentJob, spent?: ArrayBufferLike[]): Promise<ParsedPart> {
  const bodies = await Promise.all(
    job.parts.map((p) =>
      p.compressed ? inflate(bufferOf(p.data), INFLATE_OPTIONS) : bufferOf(p.data),
    ),
  );
  const parsed = readSegments(bodies, job.base, job.segments);
  spent?.push(...job.parts.map((p) => p.data.buffer), ...bodies.map((b) => b.buffer));
  return parsed;
}

/**
 * Inflated in one piece where the part allows (parts hold at most PART_BYTES of text): zlib
 * otherwise makes 16 KiB pieces and then joins them into another buffer.
 */
const INFLATE_OPTIONS: zlib.ZlibOptions = { chunkSize: (1 << 20) + (64 << 10) };

// ---------------------------------------------------------------------------------------------
// Parse threads

const ENTRY = path.join(__dirname, 'part-parse-thread.js');

export type ThreadReply =
  | { id: number; ok: true; packed: PackedReadings; rejections: Rejection[] }
  | { id: number; ok: false; message: string };

/**
 * Each thread's heap: a part is at most a few MiB of text and its readings, so this is ample,
 * and it keeps a parse thread's memory small beside the worker's.
 */
const THREAD_LIMITS = { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 24 };

interface Pending {
  thread: Worker;
  resolve: (r: ParsedPart<ReadingSource>) => void;
  reject: (err: Error) => void;
}

/**
 * Parses parts in `threads` parse threads (round robin), or in the calling thread when there
 * are none (0 asked, or no compiled entry: a test runner on the sources) or `offload` says
 * no. The threads start with the first part `offload` lets go to them: a worker that never has
 * a core to spare (several worker processes on a small host) never pays for a thread's start-up,
 * its own compiling of the parsers and its heap. A thread that dies fails its parts in flight
 * (their chunks are retried); later parts go to the threads left, or are parsed inline.
 */
export class PartParser {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly wanted: number;
  private startedOnce = false;
  private nextId = 1;
  private turn = 0;

  constructor(
    threads: number,
    private readonly logger?: Logger,
    /** asked per part: false parses it in the calling thread (no core to spare right now) */
    private readonly offload: () => boolean = () => true,
  ) {
    this.wanted = threads > 0 && fs.existsSync(ENTRY) ? threads : 0;
  }

  /** parse threads this parser uses once a part is offloaded (0: it always parses inline) */
  get threads(): number {
    return this.wanted;
  }

  /** parse threads running now */
  get running(): number {
    return this.workers.length;
  }

  private start(): void {
    const w = new Worker(ENTRY, { resourceLimits: THREAD_LIMITS });
    w.unref();
    w.on('message', (m: ThreadReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) for (const x of this.workers) x.unref();
      if (m.ok) p.resolve({ readings: new PackedSource(m.packed), rejections: m.rejections });
      else p.reject(new Error(m.message));
    });
    const gone = (why: string) => {
      const at = this.workers.indexOf(w);
      if (at < 0) return;
      this.workers.splice(at, 1);
      this.logger?.warn({ reason: why }, 'parse thread stopped; parsing in the worker thread');
      // Its parts in flight fail; their chunks are retried.
      for (const [id, p] of this.pending) {
        if (p.thread !== w) continue;
        this.pending.delete(id);
        p.reject(new Error(`parse thread stopped: ${why}`));
      }
    };
    w.on('error', (err) => gone(err.message));
    w.on('exit', (code) => gone(`exit ${code}`));
    this.workers.push(w);
  }

  async parse(job: ParseJob): Promise<ParsedPart<ReadingSource>> {
    if (this.wanted === 0 || !this.offload()) return parsePart(job);
    if (!this.startedOnce) {
      // Once only: threads that die are not replaced (the rest of the parts go inline).
      this.startedOnce = true;
      for (let i = 0; i < this.wanted; i++) this.start();
    }
    if (this.workers.length === 0) return parsePart(job);
    const w = this.workers[this.turn++ % this.workers.length]!;
    const id = this.nextId++;
    return new Promise<ParsedPart<ReadingSource>>((resolve, reject) => {
      this.pending.set(id, { thread: w, resolve, reject });
      w.ref();
      w.postMessage({ id, job });
    });
  }

  async close(): Promise<void> {
    this.startedOnce = true;
    const all = this.workers.splice(0);
    await Promise.all(all.map((w) => w.terminate()));
  }
}
