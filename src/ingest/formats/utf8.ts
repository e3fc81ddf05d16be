/**
 * Streaming UTF-8 decoding shared by every format: a fatal TextDecoder fed piece by piece, so an
 * invalid byte sequence anywhere rejects the file with its line and byte offset, and a UTF-8
 * byte order mark is dropped (it is not part of the first header name or the XML prolog).
 */
import { isAscii } from 'node:buffer';
import { bufferOf, PIECE_BYTES, malformed } from './common';

export const UTF8_BOM = '\uFEFF';

/** Decoded text with the byte range of the input it came from. */
export interface TextPiece {
  text: string;
  /** byte offset in the input of the piece's first character (a dropped BOM is before it) */
  byteStart: number;
  /** byte offset just after the piece's last character */
  byteEnd: number;
}

export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Index of the first byte that does not start a valid UTF-8 sequence in `bytes`, or -1. A
 * sequence cut off by the end of `bytes` counts as invalid only when `final`.
 */
export function firstInvalidUtf8(bytes: Uint8Array, final: boolean): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f; // no UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f; // nothing above U+10FFFF
    } else return i;
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return final ? i : -1;
      const c = bytes[i + k]!;
      if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** How many bytes at the end of `bytes` start a multi-byte sequence that is not complete yet. */
function incompleteTail(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = bytes[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: keep looking for the lead
    const len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return len > back ? back : 0;
  }
  return 0;
}

function countNewlines(bytes: Uint8Array, end = bytes.length): number {
  let n = 0;
  for (let p = bytes.indexOf(0x0a); p >= 0 && p < end; p = bytes.indexOf(0x0a, p + 1)) n++;
  return n;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function invalid(what: string, line: number, byteOffset: number, hint = ''): Error {
  return malformed(
    `${what} is not valid UTF-8: invalid byte sequence at line ${line}, byte offset ${byteOffset}${hint}; re-export it as UTF-8`,
    { line, byteOffset },
  );
}

/**
 * Decodes a byte stream into text pieces of at most `pieceBytes` input bytes each (large
 * buffers are cut, so work and memory per step stay bounded whatever the caller sends).
 */
export async function* decodeUtf8(
  input: AsyncIterable<Uint8Array>,
  opts: { pieceBytes?: number; what?: string } = {},
): AsyncGenerator<TextPiece> {
  const pieceBytes = opts.pieceBytes ?? PIECE_BYTES;
  const what = opts.what ?? 'the file';
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  /** bytes fed to the decoder so far */
  let fed = 0;
  /** line number at byte `fed` (for error messages) */
  let line = 1;
  /** the bytes the decoder holds back: the start of a sequence split by a piece boundary */
  let pending: Uint8Array = new Uint8Array(0);
  let atStart = true;

  const fail = (piece: Uint8Array): Error => {
    const bytes = concat(pending, piece);
    let idx = firstInvalidUtf8(bytes, false);
    if (idx < 0) idx = 0;
    const offset = fed - pending.length + idx;
    let hint = '';
    if (offset === 0 && (bytes[0] === 0xff || bytes[0] === 0xfe)) {
      hint = ' (it looks like UTF-16)';
    }
    return invalid(what, line + countNewlines(bytes, idx), offset, hint);
  };

  for await (const chunk of input) {
    for (let p = 0; p < chunk.length; p += pieceBytes) {
      const piece = chunk.subarray(p, Math.min(chunk.length, p + pieceBytes));
      let text: string;
      if (pending.length === 0 && isAscii(piece)) {
        // ASCII (most head-end files, nearly all of a feed) decodes as Latin-1, several times
        // faster than the decoder; nothing is pending in the decoder at a boundary like this.
        text = bufferOf(piece).toString('latin1');
      } else {
        try {
          text = decoder.decode(piece, { stream: true });
        } catch {
          throw fail(piece);
        }
      }
      const byteStart = fed - pending.length;
      const whole = pending.length && piece.length < 4 ? concat(pending, piece) : piece;
      const tail = incompleteTail(whole);
      pending = tail ? whole.slice(whole.length - tail) : new Uint8Array(0);
      fed += piece.length;
      line += countNewlines(piece);
      let start = byteStart;
      if (atStart && text.length) {
        atStart = false;
        if (text.charCodeAt(0) === 0xfeff) {
          text = text.slice(1);
          start += 3;
        }
      }
      if (text.length) yield { text, byteStart: start, byteEnd: fed - pending.length };
    }
  }
  try {
    const rest = decoder.decode();
    if (rest.length) yield { text: rest, byteStart: fed - pending.length, byteEnd: fed };
  } catch {
    throw invalid(
      what,
      line,
      fed - pending.length,
      ' (the file ends inside a character: truncated?)',
    );
  }
}

/**
 * Checks a whole in-memory document (a topology file) is UTF-8; otherwise MALFORMED_FILE
 * with the line and byte offset of the first bad byte.
 */
export function assertUtf8(buf: Buffer, what = 'file'): void {
  const at = firstInvalidUtf8(buf, true);
  if (at < 0) return;
  let line = 1;
  for (let p = buf.indexOf(10); p >= 0 && p < at; p = buf.indexOf(10, p + 1)) line++;
  throw malformed(
    `${what} is not valid UTF-8: invalid byte sequence at line ${line}, byte offset ${at}; re-export it as UTF-8`,
    { line, byteOffset: at },
  );
}
