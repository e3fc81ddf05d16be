/** The shared layers: streaming UTF-8 decoding and the delimited-record reader. */
import { ErrorCode } from '../../../src/errors';
import { RecordReader } from '../../../src/ingest/formats/records';
import {
  decodeUtf8,
  firstInvalidUtf8,
  stripBom,
  type TextPiece,
} from '../../../src/ingest/formats/utf8';
import { bytes } from './helpers';

async function decode(data: Buffer, size: number): Promise<TextPiece[]> {
  const out: TextPiece[] = [];
  for await (const p of decodeUtf8(bytes(data, size), { pieceBytes: 5 })) out.push(p);
  return out;
}

async function decodeError(
  data: Buffer,
  size = 3,
): Promise<{ code: string; details: unknown; message: string }> {
  try {
    await decode(data, size);
  } catch (e) {
    const err = e as { code: string; details: unknown; message: string };
    return err;
  }
  throw new Error('expected an error');
}

describe('decodeUtf8', () => {
  const text = 'a€b\n😀c\r\nñ';

  test.each([1, 2, 3, 4, 7, 100])(
    'multi-byte characters cut by %i-byte pieces decode intact, byte ranges line up',
    async (size) => {
      const buf = Buffer.from(text, 'utf8');
      const pieces = await decode(buf, size);
      expect(pieces.map((p) => p.text).join('')).toBe(text);
      for (const p of pieces) {
        expect(Buffer.from(p.text, 'utf8').equals(buf.subarray(p.byteStart, p.byteEnd))).toBe(true);
      }
      for (let k = 1; k < pieces.length; k++)
        expect(pieces[k]!.byteStart).toBe(pieces[k - 1]!.byteEnd);
    },
  );

  test('a BOM is dropped and byte offsets still count it', async () => {
    const pieces = await decode(
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('ab')]),
      1,
    );
    expect(pieces.map((p) => p.text).join('')).toBe('ab');
    expect(pieces[0]!.byteStart).toBe(3);
    expect(stripBom('\uFEFFx')).toBe('x');
    expect(stripBom('x')).toBe('x');
  });

  test.each([
    ['an invalid lead byte', Buffer.from([0x61, 0x0a, 0x62, 0xff, 0x63]), 2, 3],
    ['a bad continuation', Buffer.from([0x61, 0xc3, 0x28]), 1, 1],
    ['an overlong encoding', Buffer.from([0x0a, 0x0a, 0xc0, 0xaf]), 3, 2],
    ['a UTF-16 surrogate', Buffer.from([0x61, 0xed, 0xa0, 0x80]), 1, 1],
    ['above U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80]), 1, 0],
  ])('%s: MALFORMED_FILE with line and byte offset', async (_what, buf, line, byteOffset) => {
    for (const size of [1, 2, 64]) {
      const err = await decodeError(buf, size);
      expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
      expect(err.details).toEqual({ line, byteOffset });
    }
  });

  test('a character cut off by the end of the file', async () => {
    const err = await decodeError(Buffer.from([0x61, 0x0a, 0xe2, 0x82]));
    expect(err.details).toEqual({ line: 2, byteOffset: 2 });
    expect(err.message).toMatch(/truncated/);
  });

  test('UTF-16 is named', async () => {
    const err = await decodeError(Buffer.from('\uFEFFab', 'utf16le'));
    expect(err.message).toMatch(/UTF-16/);
    expect(err.details).toEqual({ line: 1, byteOffset: 0 });
  });

  test('firstInvalidUtf8 treats a cut-off sequence as valid unless final', () => {
    const cut = Buffer.from([0x61, 0xe2, 0x82]);
    expect(firstInvalidUtf8(cut, false)).toBe(-1);
    expect(firstInvalidUtf8(cut, true)).toBe(1);
  });
});

describe('RecordReader', () => {
  function read(
    text: string,
    size: number,
    opts: Partial<ConstructorParameters<typeof RecordReader>[0]> = {},
  ) {
    const reader = new RecordReader({
      delimiter: ',',
      quoting: true,
      maxRecordBytes: 1 << 20,
      ...opts,
    });
    const out: Array<[number, string[]]> = [];
    const on = (f: string[], line: number) => out.push([line, f]);
    let byte = 0;
    for (let i = 0; i < text.length; i += size) {
      const t = text.slice(i, i + size);
      const len = Buffer.byteLength(t);
      reader.push({ text: t, byteStart: byte, byteEnd: byte + len }, on);
      byte += len;
    }
    reader.end(on);
    return out;
  }

  const sample = 'a,b,c\r\n"x, ""y""",,"multi\nline"\n\nlast,"",end';
  const expected: Array<[number, string[]]> = [
    [1, ['a', 'b', 'c']],
    [2, ['x, "y"', '', 'multi\nline']],
    [5, ['last', '', 'end']],
  ];

  test.each([1, 2, 3, 5, 8, 1000])(
    'quotes, escaped quotes, CRLF, embedded newlines; %i-char pieces',
    (size) => {
      expect(read(sample, size)).toEqual(expected);
    },
  );

  test.each([1, 2, 3, 4, 5, 6, 7, 9])(
    'a record carried into the next %i-char piece ends there; the piece is read on from it',
    (size) => {
      expect(read('aé,b\r\nc,d\ne,f', size)).toEqual([
        [1, ['aé', 'b']],
        [2, ['c', 'd']],
        [3, ['e', 'f']],
      ]);
      // Byte offsets after a carried record still count from the start of the file.
      expect(() => read('aé,b\nc,d"x\n', size)).toThrow(/at line 2, byte offset 9/);
    },
  );

  test('a final quoted field closed at EOF, and CR before EOF', () => {
    expect(read('a,"b"', 1)).toEqual([[1, ['a', 'b']]]);
    expect(read('a,"b"\r', 1)).toEqual([[1, ['a', 'b']]]);
    expect(read('a,b\r', 1)).toEqual([[1, ['a', 'b']]]);
  });

  test('without quoting, quotes are plain characters', () => {
    expect(read('a,"b,c"\n', 2, { quoting: false })).toEqual([[1, ['a', '"b', 'c"']]]);
  });

  test('skipLines skips raw lines, whatever they hold', () => {
    expect(read('junk "\n"more\nx,y\n', 2, { skipLines: 2 })).toEqual([[3, ['x', 'y']]]);
  });

  test.each([
    ['a,"b"c\n', /text after a closing quote.* at line 1, byte offset 5/],
    ['a,b"c\n', /a quote inside an unquoted field.* at line 1, byte offset 3/],
    ['ok\n"never closed\nmore\n', /ends inside a quoted field opened at line 2/],
  ])('%j is structural', (text, message) => {
    expect(() => read(text, 3)).toThrow(message);
  });

  test('the record limit names the line and the byte offset where the record starts', () => {
    let caught: { details?: unknown; message: string } | undefined;
    try {
      read(`short\n${'ü'.repeat(60)}\n`, 7, { maxRecordBytes: 100 });
    } catch (e) {
      caught = e as { details?: unknown; message: string };
    }
    expect(caught?.message).toMatch(/line 2 is longer than 100 bytes/);
    expect(caught?.details).toEqual({ line: 2, byteOffset: 6 });
    // 60 two-byte characters (120 bytes) in a quoted, unfinished record
    expect(() => read(`"${'ü'.repeat(60)}`, 7, { maxRecordBytes: 100 })).toThrow(
      /line 1 is longer/,
    );
    expect(read(`${'ü'.repeat(50)}\n`, 7, { maxRecordBytes: 100 })).toHaveLength(1);
  });
});
