/**
 * Green Button (NAESB ESPI) Atom feeds, read with saxes as a stream: UsagePoint, MeterReading
 * and ReadingType entries are remembered (a few fields each), IntervalReadings are turned into
 * items as they pass. No DTD is accepted and no entity but XML's five predefined ones, so
 * nothing is expanded and nothing is fetched.
 *
 * Linking, as real feeds do it: an IntervalBlock's self/up href names its MeterReading
 * (…/MeterReading/{id}/IntervalBlock/…); the MeterReading's `related` link names its ReadingType;
 * the ReadingType entry carries the unit and direction. When a feed lacks a link, the block uses
 * the ReadingType that followed its MeterReading, or (no MeterReading at all) the most recent one.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { ErrorCode, isMeterdataError, type MeterdataError } from '../../errors';
import { type Channel, type EnergyUnit, isQualityCode } from '../../domain/channel';
import { parseReadingValue } from '../../domain/readings';
import { ChunkBuilder, chunkSizeOf, malformed, maxRecordBytesOf } from './common';
import type { ParsedChunk, ParseOptions } from './types';
import { decodeUtf8, type TextPiece } from './utf8';
import { compactRun, matchIntervalReading, MORE, type RawReading } from './espi-readings';
import type { SegmentBuilder } from './espi-segments';

/** Nesting deeper than this is not ESPI (its feeds go about 8 deep); bounds the tag stack. */
const MAX_DEPTH = 64;
/** Bounds the remembered UsagePoints, MeterReadings and ReadingTypes. */
const MAX_ENTRIES = 100_000;

const UOM_NAMES: Record<number, string> = {
  38: 'W',
  42: 'm³',
  61: 'VA',
  63: 'VAr',
  71: 'VAh',
  72: 'Wh',
  73: 'VArh',
  119: 'ft³',
  169: 'therm',
};
/**
 * An integer of at most 15 digits with an optional sign (/^[+-]?\d{1,15}$/), from character
 * codes: it runs for every reading's start and duration.
 */
function isInt(s: string): boolean {
  const n = s.length;
  let i = n > 0 && (s.charCodeAt(0) === 43 || s.charCodeAt(0) === 45) ? 1 : 0;
  if (n - i < 1 || n - i > 15) return false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

type ReadingTypeField =
  'uom' | 'powerOfTenMultiplier' | 'intervalLength' | 'flowDirection' | 'accumulationBehaviour';
/** A ReadingType entry's fields, as text. */
export type ReadingTypeFields = Partial<Record<ReadingTypeField, string>>;
const READING_TYPE_FIELDS = new Set<string>([
  'uom',
  'powerOfTenMultiplier',
  'intervalLength',
  'flowDirection',
  'accumulationBehaviour',
]);

/** How a ReadingType's values become items, or why they cannot. */
export type Interpretation =
  | {
      ok: true;
      channel: Channel;
      unit: EnergyUnit;
      convert: (v: number) => number;
      intervalLength?: number;
    }
  | { ok: false; code: ErrorCode; message: string };

interface ReadingTypeInfo {
  href: string | undefined;
  interp: Interpretation;
  fields: ReadingTypeFields;
}

interface MeterReadingInfo {
  href: string;
  readingTypeHref: string | undefined;
  /** the ReadingType entry that came next after this MeterReading (feeds without links) */
  next: ReadingTypeInfo | undefined;
}

interface Entry {
  depth: number;
  self: string | undefined;
  up: string | undefined;
  related: string[];
  title: string | undefined;
  kind: string | undefined;
  fields: ReadingTypeFields;
}

interface Block {
  meter: string;
  interp: Interpretation;
  /** the ReadingType's fields (what a segment stores) */
  fields: ReadingTypeFields;
}

type Reading = RawReading;

/**
 * A copy of a string that shares no memory with the text it was cut from: V8 keeps a slice's
 * whole parent alive, and a feed's remembered hrefs and titles would otherwise hold on to every
 * decoded piece they came from (hundreds of MB on a large feed).
 */
function own(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

/** Strips the scheme and host, and trailing slashes: feeds mix absolute and relative hrefs. */
export function normalizeHref(href: string): string {
  return href
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '')
    .replace(/\/+$/, '');
}

const MR_PREFIX_RE = /^(.*\/?MeterReading\/[^/]+)/;
const UP_PREFIX_RE = /^(.*\/?UsagePoint\/([^/]+))/;

export function interpretReadingType(f: ReadingTypeFields): Interpretation {
  const num = (k: ReadingTypeField): number | undefined => {
    const s = f[k]?.trim();
    return s !== undefined && isInt(s) ? Number(s) : undefined;
  };
  const acc = num('accumulationBehaviour');
  if (acc === 1) {
    return {
      ok: false,
      code: ErrorCode.BAD_UNIT,
      message:
        'bulkQuantity readings (accumulationBehaviour 1) are register reads, not interval data; not imported yet',
    };
  }
  if (acc !== 4) {
    return {
      ok: false,
      code: ErrorCode.BAD_UNIT,
      message: `accumulationBehaviour ${f.accumulationBehaviour === undefined ? 'is missing' : JSON.stringify(f.accumulationBehaviour.trim())}; only deltaData (4) is interval data`,
    };
  }
  const uom = num('uom');
  if (uom !== 72) {
    const name = uom === undefined ? '' : ` (${UOM_NAMES[uom] ?? 'not energy'})`;
    return {
      ok: false,
      code: ErrorCode.BAD_UNIT,
      message: `ReadingType uom ${f.uom === undefined ? 'is missing' : JSON.stringify(f.uom.trim())}${name}; only Wh (72) is imported`,
    };
  }
  const p = f.powerOfTenMultiplier === undefined ? 0 : num('powerOfTenMultiplier');
  if (p === undefined || p < -9 || p > 9) {
    return {
      ok: false,
      code: ErrorCode.BAD_UNIT,
      message: `powerOfTenMultiplier ${JSON.stringify(f.powerOfTenMultiplier)} is not an integer from -9 to 9`,
    };
  }
  const flow = num('flowDirection');
  let channel: Channel;
  if (flow === 1) channel = 'delivered';
  else if (flow === 19) channel = 'received';
  else {
    return {
      ok: false,
      code: ErrorCode.UNKNOWN_CHANNEL,
      message: `flowDirection ${f.flowDirection === undefined ? 'is missing' : JSON.stringify(f.flowDirection.trim())}; only forward (1, delivered) and reverse (19, received) are imported`,
    };
  }
  // value × 10^p Wh, written in the unit that keeps it exact: kWh/MWh for p = 3/6, Wh otherwise
  // (a division by 10^-p rounds once, where a multiplication by 0.001 would not be exact).
  let unit: EnergyUnit = 'Wh';
  let convert: (v: number) => number;
  if (p === 0) convert = (v) => v;
  else if (p === 3) {
    unit = 'kWh';
    convert = (v) => v;
  } else if (p === 6) {
    unit = 'MWh';
    convert = (v) => v;
  } else if (p > 0) {
    const m = 10 ** p;
    convert = (v) => v * m;
  } else {
    const d = 10 ** -p;
    convert = (v) => v / d;
  }
  const intervalLength = num('intervalLength');
  return {
    ok: true,
    channel,
    unit,
    convert,
    ...(intervalLength !== undefined && intervalLength > 0 ? { intervalLength } : {}),
  };
}

function localName(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(i + 1);
}

export async function* parseEspi(
  input: AsyncIterable<Buffer>,
  opts: ParseOptions = {},
): AsyncGenerator<ParsedChunk> {
  const chunkSize = chunkSizeOf(opts);
  const maxRecordBytes = maxRecordBytesOf(opts);
  const builder = new ChunkBuilder(chunkSize);
  const feed = new EspiFeed(builder, opts.meter?.trim() || undefined, maxRecordBytes);
  let bytesRead = 0;
  for await (const piece of decodeUtf8(input)) {
    feed.write(piece);
    bytesRead = piece.byteEnd;
    yield* builder.drain(bytesRead);
  }
  feed.close();
  yield* builder.flush(bytesRead);
}

/**
 * Where the next opening IntervalReading tag (`<IntervalReading>`, with any prefix) starts at
 * or after `from`, or -1.
 */
function readingTagAt(text: string, from: number): number {
  for (let k = text.indexOf('IntervalReading>', from); k >= 0;) {
    let j = k - 1;
    // A prefix ("espi:") between the '<' and the name.
    if (j >= from && text.charCodeAt(j) === 58) {
      j--;
      while (j >= from && j > k - 34 && /[A-Za-z0-9_.-]/.test(text[j]!)) j--;
    }
    if (j >= from && text.charCodeAt(j) === 60) return j;
    k = text.indexOf('IntervalReading>', k + 1);
  }
  return -1;
}

/** Whether text[from, to) is only XML white space. */
function isBlank(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 9 && c !== 13) return false;
  }
  return true;
}

function countLines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** The state of one feed being read. */
export class EspiFeed {
  private readonly parser = new SaxesParser({ xmlns: false, position: true });
  private readonly stack: string[] = [];
  private lastEventAt = 0;
  private entry: Entry | undefined;
  private block: Block | undefined;
  private reading: Reading | undefined;
  private ordinal = 0;
  /** text being collected for the element at `captureDepth` */
  private capture: ((text: string) => void) | undefined;
  private captureDepth = 0;
  private captured = '';
  private readonly usagePoints = new Map<string, string | undefined>();
  private readonly meterReadings = new Map<string, MeterReadingInfo>();
  private readonly readingTypes = new Map<string, ReadingTypeInfo>();
  private lastReadingType: ReadingTypeInfo | undefined;
  private lastMeterReading: MeterReadingInfo | undefined;
  private readonly metersUsed = new Set<string>();
  /** the start of a reading that ran past the last piece, read with the next */
  private held = '';
  /** its size in bytes (as many as its characters: ASCII) */
  private heldBytes = 0;
  /** the byte offsets in the file of the text being read, and whether it is ASCII */
  private textStart = 0;
  private textEnd = 0;
  private textAscii = true;
  /** a character offset in that text and its byte offset in the file (see byteAt) */
  private atChar = 0;
  private atByte = 0;
  /** line ends inside readings read without saxes, passed to it before its next text */
  private pendingLines = 0;
  /** characters given to saxes so far, and where (in those) it read the end of its last tag */
  private fed = 0;
  private tagEndAt = -1;
  private blankSinceTag = false;

  constructor(
    private readonly out: ChunkBuilder,
    private readonly meterOption: string | undefined,
    private readonly maxTokenChars: number,
    /** record reading runs here instead of parsing them (the landing) */
    private readonly segments?: SegmentBuilder,
  ) {
    // Five handlers at most: saxes stores handlers with keyed property writes, and past about
    // seven of them V8 turns the parser into a dictionary-mode object, five times slower. Parse
    // errors are caught around write() instead, the XML declaration is checked at the root.
    const p = this.parser;
    p.on('doctype', () => {
      throw this.fail(
        'the XML has a DTD (<!DOCTYPE …>), which is refused: a DTD can declare entities that expand without bound or read files; export the feed without one',
      );
    });
    p.on('opentag', (t) => {
      this.lastEventAt = this.tagEndAt = p.position;
      this.openTag(t);
    });
    p.on('closetag', (t) => {
      this.lastEventAt = this.tagEndAt = p.position;
      this.closeTag(localName(t.name));
    });
    p.on('text', (t) => {
      this.lastEventAt = p.position;
      if (this.capture) this.captured += t;
    });
    p.on('cdata', (t) => {
      this.lastEventAt = p.position;
      if (this.capture) this.captured += t;
    });
  }

  /** Runs saxes, turning its well-formedness errors into MALFORMED_FILE. */
  private guarded(run: () => void): void {
    try {
      run();
    } catch (e) {
      if (isMeterdataError(e)) throw e;
      const message = (e as Error).message;
      const m = /undefined entity|entity name/.test(message)
        ? 'an entity reference other than &amp; &lt; &gt; &quot; &apos; (no entities are declared or expanded)'
        : message.replace(/^\d+:\d+: /, '');
      throw this.fail(`the XML is not well-formed: ${m}`);
    }
  }

  /**
   * Takes the next piece of the feed. IntervalReadings in their usual shape, where saxes has
   * just read the tag before them inside an IntervalBlock, are read by matchIntervalReading
   * without going through saxes (their line ends are passed on, so line numbers stay right);
   * everything else goes to saxes. With a segment builder, those readings are only checked and
   * their byte ranges recorded (see espi-segments.ts).
   */
  write(piece: TextPiece): void {
    const text = this.held ? this.held + piece.text : piece.text;
    this.textStart = piece.byteStart - this.heldBytes;
    this.textEnd = piece.byteEnd;
    this.textAscii =
      this.heldBytes === this.held.length && piece.byteEnd - piece.byteStart === piece.text.length;
    this.atChar = 0;
    this.atByte = this.textStart;
    this.held = '';
    this.heldBytes = 0;
    let pos = 0;
    for (;;) {
      const j = readingTagAt(text, pos);
      if (j < 0) {
        this.finishPiece(text, pos);
        return;
      }
      const space = isBlank(text, pos, j);
      if (!space) this.feed(text, pos, j);
      if (!this.readingMayFollow()) {
        this.feed(text, space ? pos : j, j + 1);
        pos = j + 1;
        continue;
      }
      if (this.segments) {
        const run = compactRun(text, j);
        if (run) {
          this.pendingLines +=
            (space ? countLines(text, pos, j) : 0) + countLines(text, j, run.end);
          this.segment(text, j, run.end, run.count);
          pos = run.end;
          continue;
        }
      }
      const m = matchIntervalReading(text, j);
      if (m === MORE) {
        // Held back for the next piece; one reading at most (matchIntervalReading bounds it).
        this.hold(text, j);
        if (space) this.pendingLines += countLines(text, pos, j);
        return;
      }
      if (m === null) {
        this.feed(text, space ? pos : j, j + 1);
        pos = j + 1;
        continue;
      }
      this.pendingLines += (space ? countLines(text, pos, j) : 0) + countLines(text, j, m.end);
      if (this.segments) this.segment(text, j, m.end, 1);
      else {
        this.ordinal++;
        this.emit(m.reading);
      }
      pos = m.end;
    }
  }

  /** Keeps text[from…] for the next piece. */
  private hold(text: string, from: number): void {
    this.held = text.slice(from);
    this.heldBytes = this.textEnd - this.byteAt(text, from);
  }

  /**
   * Reads the rest of a piece that holds no complete reading tag. A tag cut off at its end is
   * held for the next piece when it may open a reading read without saxes (inside a block,
   * after only white space), so piece boundaries do not send readings to saxes.
   */
  private finishPiece(text: string, pos: number): void {
    const lt = text.lastIndexOf('<');
    if (lt < pos || text.length - lt > 64 || text.indexOf('>', lt) >= 0) {
      this.feed(text, pos, text.length);
      return;
    }
    if (!isBlank(text, pos, lt)) this.feed(text, pos, lt);
    else this.pendingLines += countLines(text, pos, lt);
    if (this.readingMayFollow()) this.hold(text, lt);
    else this.feed(text, lt, text.length);
  }

  /** The byte offset in the file of text[at] (offsets asked for only grow within a piece). */
  private byteAt(text: string, at: number): number {
    if (this.textAscii) return this.textStart + at;
    if (at < this.atChar) {
      this.atChar = 0;
      this.atByte = this.textStart;
    }
    this.atByte += Buffer.byteLength(text.slice(this.atChar, at), 'utf8');
    this.atChar = at;
    return this.atByte;
  }

  /** Records readings text[from, to) (count of them) as a segment of the current block. */
  private segment(text: string, from: number, to: number, count: number): void {
    const block = this.block!;
    this.segments!.add(
      block.meter,
      block.fields,
      this.byteAt(text, from),
      this.byteAt(text, to),
      this.ordinal + 1,
      count,
    );
    this.ordinal += count;
  }

  /** Feeds text[from, to) to saxes (with the line ends of readings read without it first). */
  private feed(text: string, from: number, to: number): void {
    if (this.pendingLines > 0) {
      const lines = '\n'.repeat(this.pendingLines);
      this.pendingLines = 0;
      this.feedSaxes(lines, 0, lines.length);
    }
    this.feedSaxes(text, from, to);
  }

  private feedSaxes(text: string, from: number, to: number): void {
    // Anything but white space between readings ends their segment.
    if (this.segments && !isBlank(text, from, to)) this.segments.close();
    // Bound what saxes buffers: no event for longer than the limit means one token (text, tag,
    // comment, entity name) is that long, and it is refused.
    const step = Math.max(1024, Math.min(64 * 1024, this.maxTokenChars));
    for (let i = from; i < to; i += step) {
      const slice = text.slice(i, Math.min(to, i + step));
      const at = this.fed;
      this.guarded(() => this.parser.write(slice));
      this.fed += slice.length;
      // Only blank text since the last tag that saxes read: the place for a reading.
      this.blankSinceTag =
        this.tagEndAt >= at
          ? isBlank(slice, this.tagEndAt - at, slice.length)
          : this.blankSinceTag && isBlank(slice, 0, slice.length);
      if (this.parser.position - this.lastEventAt > this.maxTokenChars) {
        throw this.fail(
          `an XML token (text, tag or comment) is longer than ${this.maxTokenChars.toLocaleString('en-US')} characters; records are limited to bound memory`,
        );
      }
    }
  }

  /**
   * Whether an IntervalReading may be read without saxes here: saxes has just read a tag (only
   * blank text after it), and that left it inside an IntervalBlock it resolved, outside any
   * reading or captured element.
   */
  private readingMayFollow(): boolean {
    return (
      this.blankSinceTag &&
      this.block !== undefined &&
      this.reading === undefined &&
      this.capture === undefined &&
      this.stack[this.stack.length - 1] === 'IntervalBlock'
    );
  }

  close(): void {
    if (this.held) {
      const rest = this.held;
      this.held = '';
      this.feed(rest, 0, rest.length);
    }
    if (this.stack.length > 0) {
      throw this.fail(
        `the XML ends inside <${this.stack[this.stack.length - 1]}> (truncated file?)`,
      );
    }
    this.guarded(() => this.parser.close());
  }

  private fail(message: string): MeterdataError {
    return malformed(`${message} (line ${this.parser.line})`, {
      line: this.parser.line,
      column: this.parser.column,
    });
  }

  private startCapture(depth: number, target: (text: string) => void): void {
    this.capture = target;
    this.captureDepth = depth;
    this.captured = '';
  }

  private openTag(t: SaxesTagPlain): void {
    const name = localName(t.name);
    const parent = this.stack[this.stack.length - 1];
    this.stack.push(name);
    const depth = this.stack.length;
    if (depth > MAX_DEPTH) throw this.fail(`elements nest deeper than ${MAX_DEPTH}`);
    if (depth === 1) {
      if (name !== 'feed' && name !== 'entry') {
        throw this.fail(`the root element is <${t.name}>, not an Atom <feed> of Green Button data`);
      }
      const encoding = this.parser.xmlDecl.encoding;
      if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) {
        throw this.fail(
          `the XML declares encoding ${JSON.stringify(encoding)}; only UTF-8 is accepted`,
        );
      }
    }
    if (name === 'entry' && (depth === 1 || (depth === 2 && parent === 'feed'))) {
      this.entry = {
        depth,
        self: undefined,
        up: undefined,
        related: [],
        title: undefined,
        kind: undefined,
        fields: {},
      };
      return;
    }
    const e = this.entry;
    if (!e) return;
    if (depth === e.depth + 1) {
      if (name === 'link') {
        const href = t.attributes.href;
        const rel = (t.attributes.rel ?? 'alternate').trim();
        if (typeof href === 'string' && href.trim()) {
          const h = normalizeHref(href);
          if (rel === 'self') e.self = h;
          else if (rel === 'up') e.up = h;
          else if (rel === 'related') e.related.push(h);
        }
      } else if (name === 'title') {
        this.startCapture(depth, (s) => (e.title = s.trim()));
      }
      return;
    }
    if (depth === e.depth + 2 && parent === 'content') {
      e.kind ??= name;
      if (name === 'IntervalBlock') this.block = this.resolveBlock(e);
      return;
    }
    if (e.kind === 'ReadingType' && depth === e.depth + 3 && READING_TYPE_FIELDS.has(name)) {
      this.startCapture(depth, (s) => (e.fields[name as ReadingTypeField] = s));
      return;
    }
    if (!this.block) return;
    if (name === 'IntervalReading' && parent === 'IntervalBlock') {
      this.ordinal++;
      this.reading = { qualities: [] };
      return;
    }
    const r = this.reading;
    if (!r) return;
    if (parent === 'timePeriod' && (name === 'start' || name === 'duration')) {
      this.startCapture(depth, (s) => (r[name] = s));
    } else if (parent === 'IntervalReading' && name === 'value') {
      this.startCapture(depth, (s) => (r.value = s));
    } else if (parent === 'ReadingQuality' && name === 'quality') {
      this.startCapture(depth, (s) => r.qualities.push(s));
    }
  }

  private closeTag(name: string): void {
    const depth = this.stack.length;
    this.stack.pop();
    if (this.capture && depth === this.captureDepth) {
      const target = this.capture;
      this.capture = undefined;
      target(this.captured);
      this.captured = '';
      return;
    }
    if (name === 'IntervalReading' && this.reading) {
      this.emit(this.reading);
      this.reading = undefined;
    } else if (name === 'IntervalBlock') {
      this.block = undefined;
    } else if (this.entry && depth === this.entry.depth) {
      this.finishEntry(this.entry);
      this.entry = undefined;
    }
  }

  private remember<V>(map: Map<string, V>, rawKey: string, value: V): void {
    const key = own(rawKey);
    if (map.size >= MAX_ENTRIES && !map.has(key)) {
      throw this.fail(
        `the feed has more than ${MAX_ENTRIES.toLocaleString('en-US')} entries of one kind`,
      );
    }
    map.set(key, value);
  }

  private finishEntry(e: Entry): void {
    switch (e.kind) {
      case 'UsagePoint':
        if (e.self) this.remember(this.usagePoints, e.self, e.title ? own(e.title) : undefined);
        break;
      case 'MeterReading': {
        if (!e.self) break;
        const rtHref = e.related.find((h) => /(^|\/)ReadingType\/[^/]+$/.test(h));
        const info: MeterReadingInfo = {
          href: own(e.self),
          readingTypeHref: rtHref === undefined ? undefined : own(rtHref),
          next: undefined,
        };
        this.remember(this.meterReadings, e.self, info);
        this.lastMeterReading = info;
        break;
      }
      case 'ReadingType': {
        const fields: ReadingTypeFields = {};
        for (const [k, v] of Object.entries(e.fields)) fields[k as ReadingTypeField] = own(v);
        const info: ReadingTypeInfo = {
          href: e.self === undefined ? undefined : own(e.self),
          interp: interpretReadingType(fields),
          fields,
        };
        if (e.self) this.remember(this.readingTypes, e.self, info);
        this.lastReadingType = info;
        if (this.lastMeterReading && !this.lastMeterReading.next) this.lastMeterReading.next = info;
        break;
      }
      default:
        break;
    }
  }

  /** The meter and ReadingType of an IntervalBlock entry (see the module comment). */
  private resolveBlock(e: Entry): Block {
    const href = e.self ?? e.up;
    const mrHref = href ? MR_PREFIX_RE.exec(href)?.[1] : undefined;
    let rt: ReadingTypeInfo | undefined;
    const mr = mrHref ? this.meterReadings.get(mrHref) : undefined;
    if (mr) {
      rt = (mr.readingTypeHref && this.readingTypes.get(mr.readingTypeHref)) || mr.next;
    } else {
      rt = this.lastReadingType;
    }
    if (!rt) {
      throw this.fail(
        `an IntervalBlock${href ? ` (${href})` : ''} comes before any ReadingType it could use: its MeterReading must link a ReadingType (link rel="related") that appears before the blocks`,
      );
    }
    return { meter: this.meterOf(href), interp: rt.interp, fields: rt.fields };
  }

  /**
   * The meter serial: the `meter` option; else the UsagePoint entry's title; else the UsagePoint
   * id in the block's href (…/UsagePoint/{id}/MeterReading/…).
   */
  private meterOf(href: string | undefined): string {
    const m = href ? UP_PREFIX_RE.exec(href) : null;
    let usagePoint = m?.[1];
    if (!usagePoint && this.usagePoints.size === 1) usagePoint = [...this.usagePoints.keys()][0];
    if (this.meterOption) {
      this.metersUsed.add(usagePoint ?? '');
      if (this.metersUsed.size > 1) {
        throw this.fail(
          'the feed holds readings of several UsagePoints; --meter names one meter, so import them without it (or split the feed)',
        );
      }
      return this.meterOption;
    }
    const title = usagePoint ? this.usagePoints.get(usagePoint) : undefined;
    const serial = title || m?.[2];
    if (!serial) {
      throw this.fail(
        'cannot tell which meter the readings belong to (no UsagePoint title or id in the hrefs); pass the meter serial with --meter',
      );
    }
    return serial;
  }

  private emit(r: Reading): void {
    const block = this.block!;
    emitReading(this.out, this.ordinal, r, block.meter, block.interp);
  }
}

/**
 * Checks a reading's timestamp, duration, value and quality codes and adds it to `out`, or
 * rejects it (row-level) with its ordinal.
 */
export function emitReading(
  out: ChunkBuilder,
  position: number,
  r: RawReading,
  meter: string,
  interp: Interpretation,
): void {
  if (!interp.ok) {
    out.reject(position, interp.code, interp.message, meter);
    return;
  }
  const start = r.start?.trim();
  if (start === undefined || !isInt(start)) {
    out.reject(
      position,
      ErrorCode.BAD_TIMESTAMP,
      `timePeriod start ${start === undefined ? 'is missing' : JSON.stringify(start)} is not Unix seconds`,
      meter,
    );
    return;
  }
  const durRaw = r.duration?.trim();
  const duration = durRaw !== undefined && isInt(durRaw) ? Number(durRaw) : interp.intervalLength;
  if (duration === undefined || duration <= 0 || duration > 86400) {
    out.reject(
      position,
      ErrorCode.BAD_VALUE,
      `timePeriod duration ${durRaw === undefined ? 'is missing (and the ReadingType has no intervalLength)' : JSON.stringify(durRaw)} is not a number of seconds`,
      meter,
    );
    return;
  }
  const v = r.value === undefined ? undefined : parseReadingValue(r.value);
  if (v === undefined) {
    out.reject(
      position,
      ErrorCode.BAD_VALUE,
      `value ${r.value === undefined ? 'is missing' : JSON.stringify(r.value.trim())} is not a finite number`,
      meter,
    );
    return;
  }
  let quality: number | undefined;
  for (const q of r.qualities) {
    const s = q.trim();
    const n = isInt(s) ? Number(s) : NaN;
    if (!isQualityCode(n)) {
      out.reject(
        position,
        ErrorCode.BAD_VALUE,
        `ReadingQuality ${JSON.stringify(s)} is not an ESPI quality code`,
        meter,
      );
      return;
    }
    // Several ReadingQuality elements: the first that is not "valid" describes the reading.
    if (quality === undefined || (quality === 0 && n !== 0)) quality = n;
  }
  out.columns.push(
    meter,
    interp.channel,
    Number(start) * 1000,
    duration,
    interp.convert(v),
    interp.unit,
    quality,
    position,
  );
}
