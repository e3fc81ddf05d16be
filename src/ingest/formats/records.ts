/**
 * A streaming delimited-record reader (RFC 4180 quoting) over decoded text pieces, with line
 * numbers and a record-size limit. Written by hand rather than with csv-parse because the
 * formats need what csv-parse does not give cheaply: the line each record starts on, a limit in
 * bytes with the record's byte offset, and the quoting errors as structural errors.
 *
 * Records end at LF or CRLF. A quote may open a field and must then close it, followed by the
 * delimiter or the line end ("" inside is a quote); a quote anywhere else is a structural error,
 * as is a file ending inside a quoted field (a truncated file).
 */
import { malformed } from './common';
import type { TextPiece } from './utf8';

export interface RecordReaderOptions {
  delimiter: string;
  /** whether `"` quotes fields (CMEP files seldom quote, but some exporters do) */
  quoting: boolean;
  maxRecordBytes: number;
  /** physical lines skipped before the first record (preambles are not parsed at all) */
  skipLines?: number;
}

/** Called for each record with its fields and the line it starts on (blank lines are skipped). */
export type RecordHandler = (fields: string[], line: number) => void;

const NL = 10;
const CR = 13;
const QUOTE = 34;

/** Signals that a quoted record continues past the text at hand. */
const INCOMPLETE = null;
const NO_FIELDS: string[] = [];

export class RecordReader {
  private readonly delimiter: string;
  private readonly delimCode: number;
  private readonly quoting: boolean;
  private readonly maxBytes: number;
  private skip: number;
  /** text of a record (or skipped line) not finished by the previous pieces */
  private carry = '';
  private carryLine = 1;
  private carryByte = 0;
  /** the line the next record starts on */
  private line = 1;
  private sawAny = false;
  /**
   * false: records without quotes are counted and checked but not split (the handler gets an
   * empty array) — a structural check needs the quoting and the line ends, not the fields.
   */
  splitting = true;
  /**
   * Offered each unquoted record as [start, end) of `text` before it is split; returning true
   * means the record was taken as it stands (no field strings are made), false that it goes to
   * the record handler as usual.
   */
  takeUnsplit: ((text: string, start: number, end: number, line: number) => boolean) | null = null;

  constructor(opts: RecordReaderOptions) {
    if (opts.delimiter.length !== 1) throw new Error('delimiter must be one character');
    this.delimiter = opts.delimiter;
    this.delimCode = opts.delimiter.charCodeAt(0);
    this.quoting = opts.quoting;
    this.maxBytes = opts.maxRecordBytes;
    this.skip = opts.skipLines ?? 0;
  }

  /** Physical lines seen so far (the line the next record would start on). */
  get currentLine(): number {
    return this.line;
  }

  /** Whether the input had any text at all. */
  get sawInput(): boolean {
    return this.sawAny;
  }

  push(piece: TextPiece, onRecord: RecordHandler): void {
    if (piece.text.length) this.sawAny = true;
    let text = piece.text;
    let textByte = piece.byteStart;
    let from = 0;
    if (this.carry) {
      const nl = text.indexOf('\n');
      const quotes =
        this.quoting && (this.carry.includes('"') || (nl >= 0 && text.lastIndexOf('"', nl) >= 0));
      if (nl >= 0 && !quotes) {
        // The unfinished record ends at the piece's first line end: it is read on its own, and
        // the piece in place (joining the two would copy the whole piece into a new string).
        const head = this.carry + text.slice(0, nl + 1);
        this.carry = '';
        this.scan(head, false, onRecord, this.carryByte);
        from = nl + 1;
      } else {
        text = this.carry + text;
        textByte = this.carryByte;
      }
    }
    const pos = this.scan(text, false, onRecord, textByte, from);
    this.carry = pos < text.length ? text.slice(pos) : '';
    if (this.carry) {
      // The unfinished record is the text's tail: its byte offset counts back from the end.
      this.carryByte = piece.byteEnd - Buffer.byteLength(this.carry);
      this.carryLine = this.line;
      this.checkSize(this.carry, this.carryLine, this.carryByte);
    }
  }

  end(onRecord: RecordHandler): void {
    if (!this.carry) return;
    const text = this.carry;
    this.carry = '';
    this.scan(text, true, onRecord, this.carryByte);
  }

  /** Throws when a record is over the limit: length in UTF-16 units bounds bytes from below. */
  private checkSize(record: string, line: number, byteOffset: number): void {
    if (record.length * 3 <= this.maxBytes) return;
    const bytes = record.length > this.maxBytes ? record.length : Buffer.byteLength(record);
    if (bytes <= this.maxBytes) return;
    throw malformed(
      `line ${line} is longer than ${this.maxBytes.toLocaleString('en-US')} bytes (a record without line ends?); records are limited to bound memory`,
      { line, byteOffset },
    );
  }

  /**
   * Emits the complete records of `text` from `from`; returns where the unfinished tail starts.
   * At EOF the tail is a last record without a line end.
   */
  private scan(
    text: string,
    eof: boolean,
    onRecord: RecordHandler,
    textByte: number,
    from = 0,
  ): number {
    const n = text.length;
    let pos = from;
    let nextQuote = -2; // unknown
    const byteAt = (i: number) => textByte + Buffer.byteLength(text.slice(0, i));
    while (pos < n) {
      let nl = text.indexOf('\n', pos);
      if (this.skip > 0) {
        if (nl < 0 && !eof) return pos;
        if (nl < 0) nl = n;
        this.checkSize(text.slice(pos, nl), this.line, byteAt(pos));
        this.skip--;
        this.line++;
        pos = nl + 1;
        continue;
      }
      if (this.quoting && nextQuote !== -1 && nextQuote < pos) nextQuote = text.indexOf('"', pos);
      const quoted = this.quoting && nextQuote >= 0 && (nl < 0 || nextQuote < nl);
      if (!quoted) {
        if (nl < 0) {
          if (!eof) return pos;
          nl = n;
        }
        const end = nl > pos && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
        if (nl - pos > this.maxBytes / 3)
          this.checkSize(text.slice(pos, end), this.line, byteAt(pos));
        if (end > pos && !(this.takeUnsplit && this.takeUnsplit(text, pos, end, this.line))) {
          onRecord(
            this.splitting ? text.slice(pos, end).split(this.delimiter) : NO_FIELDS,
            this.line,
          );
        }
        this.line++;
        pos = nl + 1;
        continue;
      }
      const r = this.quotedRecord(text, pos, eof, byteAt);
      if (r === INCOMPLETE) return pos;
      if (r.next - pos > this.maxBytes / 3) {
        this.checkSize(text.slice(pos, r.next), this.line, byteAt(pos));
      }
      onRecord(r.fields, this.line);
      this.line += r.lines;
      pos = r.next;
    }
    return pos;
  }

  /**
   * Parses one record that contains quotes, starting at `start`. Returns INCOMPLETE when the
   * record runs past the text (and it is not EOF).
   */
  private quotedRecord(
    text: string,
    start: number,
    eof: boolean,
    byteAt: (i: number) => number,
  ): { fields: string[]; next: number; lines: number } | typeof INCOMPLETE {
    const n = text.length;
    const fields: string[] = [];
    let lines = 0;
    let i = start;
    const fail = (what: string, at: number): never => {
      throw malformed(`${what} at line ${this.line + lines}, byte offset ${byteAt(at)}`, {
        line: this.line + lines,
        byteOffset: byteAt(at),
      });
    };
    for (;;) {
      if (i < n && text.charCodeAt(i) === QUOTE) {
        const openedAt = i;
        const openedLine = this.line + lines;
        let value = '';
        let seg = i + 1;
        let j = seg;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q < 0) {
            if (!eof) return INCOMPLETE;
            throw malformed(
              `the file ends inside a quoted field opened at line ${openedLine} (truncated file?)`,
              { line: openedLine, byteOffset: byteAt(openedAt) },
            );
          }
          for (let p = text.indexOf('\n', j); p >= 0 && p < q; p = text.indexOf('\n', p + 1)) {
            lines++;
          }
          if (q + 1 >= n && !eof) return INCOMPLETE; // is it "" or the closing quote?
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += text.slice(seg, q + 1);
            j = seg = q + 2;
            continue;
          }
          value += text.slice(seg, q);
          i = q + 1;
          break;
        }
        fields.push(value);
        if (i >= n) {
          if (!eof) return INCOMPLETE;
          return { fields, next: n, lines: lines + 1 };
        }
        const c = text.charCodeAt(i);
        if (c === this.delimCode) {
          i++;
          continue;
        }
        if (c === NL) return { fields, next: i + 1, lines: lines + 1 };
        if (c === CR) {
          if (i + 1 >= n) {
            if (!eof) return INCOMPLETE;
            return { fields, next: n, lines: lines + 1 };
          }
          if (text.charCodeAt(i + 1) === NL) return { fields, next: i + 2, lines: lines + 1 };
        }
        return fail('text after a closing quote (quote the whole field or nothing)', i);
      }
      // An unquoted field: up to the next delimiter or line end.
      let d = text.indexOf(this.delimiter, i);
      let nl = text.indexOf('\n', i);
      if (nl < 0) {
        if (!eof) return INCOMPLETE;
        nl = n;
      }
      if (d < 0 || d > nl) d = -1;
      const end = d >= 0 ? d : nl;
      const fieldEnd = d < 0 && end > i && text.charCodeAt(end - 1) === CR ? end - 1 : end;
      const value = text.slice(i, fieldEnd);
      const stray = value.indexOf('"');
      if (stray >= 0) {
        fail(
          'a quote inside an unquoted field (quote the whole field and double its quotes)',
          i + stray,
        );
      }
      fields.push(value);
      if (d >= 0) {
        i = d + 1;
        continue;
      }
      return { fields, next: Math.min(n, nl + 1), lines: lines + 1 };
    }
  }
}
