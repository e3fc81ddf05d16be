/**
 * The readings CSV reader behind `meterdata ingest`, without a database: the structural check
 * against csv-parse and TextDecoder as oracles (with tiny reads, so every chunk boundary is
 * crossed), and line numbers through quoted line breaks and blank lines.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseSync } from 'csv-parse/sync';
import {
  checkReadingsCsv,
  readReadingsCsv,
  scanUtf8,
  type ReadingChunk,
} from '../../src/ingest/csv';

const HEADER = 'meter_serial,channel,interval_start,interval_seconds,value,unit\n';
let dir: string;
let n = 0;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterdata-csv-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(content: string | Buffer): string {
  const p = path.join(dir, `f${n++}.csv`);
  fs.writeFileSync(p, content);
  return p;
}

/** A small deterministic generator (tests must not depend on Math.random). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

async function outcome(p: string, readBytes: number): Promise<string> {
  try {
    const c = await checkReadingsCsv(p, { readBytes, maxRecordBytes: 80 });
    return `ok ${c.lines}`;
  } catch (err) {
    return `${(err as { code: string }).code}: ${(err as Error).message}`;
  }
}

test('scanUtf8 agrees with a fatal TextDecoder', () => {
  const next = rng(7);
  const pool = [
    0x41, 0x0a, 0x80, 0xbf, 0xc2, 0xc3, 0xdf, 0xe0, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xa0, 0x90,
    0x8f, 0xff,
  ];
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let k = 0; k < 20_000; k++) {
    const bytes = Uint8Array.from(
      { length: 1 + Math.floor(next() * 6) },
      () => pool[Math.floor(next() * pool.length)]!,
    );
    let valid = true;
    try {
      decoder.decode(bytes);
    } catch {
      valid = false;
    }
    expect({ bytes: [...bytes], valid: scanUtf8(bytes).index === -1 }).toEqual({
      bytes: [...bytes],
      valid,
    });
  }
});

test('the structural check is never more lenient than csv-parse, and chunking does not matter', async () => {
  const next = rng(42);
  const alphabet = ['a', 'b', ',', '"', '\n', '\r\n', '\r', 'é', '""'];
  let accepted = 0;
  for (let k = 0; k < 400; k++) {
    let body = HEADER;
    const len = Math.floor(next() * 120);
    for (let i = 0; i < len; i++) body += alphabet[Math.floor(next() * alphabet.length)];
    const p = file(body);
    const results = new Set<string>();
    for (const readBytes of [4, 5, 7, 13, 1 << 16]) results.add(await outcome(p, readBytes));
    expect([...results]).toHaveLength(1);
    const [result] = [...results];
    if (result!.startsWith('ok')) {
      accepted++;
      expect(() =>
        parseSync(body, {
          bom: true,
          relax_column_count: true,
          record_delimiter: ['\n', '\r\n'],
          max_record_size: 80,
        }),
      ).not.toThrow();
    }
  }
  // the generator produces both kinds
  expect(accepted).toBeGreaterThan(10);
  expect(accepted).toBeLessThan(400);
});

test('any RFC 4180 file within the size limit passes, whatever the chunking', async () => {
  const next = rng(9);
  const text = ['a', 'é', ' ', ',', '"', '\n', '\r\n', '€'];
  for (let k = 0; k < 200; k++) {
    const records: string[] = [];
    for (let r = Math.floor(next() * 4); r > 0; r--) {
      const fields: string[] = [];
      for (let f = 1 + Math.floor(next() * 3); f > 0; f--) {
        let v = '';
        for (let c = Math.floor(next() * 5); c > 0; c--)
          v += text[Math.floor(next() * text.length)];
        const quote = /[",\r\n]/.test(v) || next() < 0.3;
        fields.push(quote ? `"${v.replace(/"/g, '""')}"` : v);
      }
      records.push(fields.join(','));
    }
    const body = HEADER + records.join(next() < 0.5 ? '\n' : '\r\n');
    const p = file(body);
    for (const readBytes of [4, 5, 7, 1 << 16]) expect(await outcome(p, readBytes)).toMatch(/^ok/);
  }
});

test('well-formed quoting passes, with fields across chunk boundaries', async () => {
  const body =
    '\uFEFF"meter_serial","channel",interval_start,interval_seconds,value,unit,note\r\n' +
    'M-1,delivered,2025-01-01T00:00:00Z,900,"1.5",kWh,"multi\nline ""quoted"" note"\r\n' +
    '\n' +
    'M-1,delivered,2025-01-01T00:15:00Z,900,2,kWh,"é, ü"\n' +
    'M-1,delivered,2025-01-01T00:30:00Z,900,3,kWh,\n';
  const p = file(body);
  for (const readBytes of [4, 5, 6, 7, 11, 1 << 20]) {
    const check = await checkReadingsCsv(p, { readBytes });
    expect(check.lines).toBe(6);
    const chunks: ReadingChunk[] = [];
    for await (const c of readReadingsCsv(p, check, { chunkRows: 2, readBytes })) chunks.push(c);
    expect(chunks.map((c) => c.lines)).toEqual([[2, 5], [6]]);
    expect(chunks[0]!.items[0]).toEqual({
      meterSerial: 'M-1',
      channel: 'delivered',
      intervalStart: '2025-01-01T00:00:00Z',
      intervalSeconds: 900,
      value: '1.5',
      unit: 'kWh',
    });
    expect(chunks[1]!.bytesRead).toBe(Buffer.byteLength(body));
  }
});

test('rows with the wrong field count or a bad interval length are rejected by line', async () => {
  const p = file(
    HEADER +
      'M-1,delivered,2025-01-01T00:00:00Z,900,1,kWh\n' +
      'M-1,delivered,2025-01-01T00:15:00Z,900,1,kWh,extra\n' +
      'M-1,delivered,2025-01-01T00:30:00Z,15min,1,kWh\n' +
      'M-1\n',
  );
  const check = await checkReadingsCsv(p);
  const chunks: ReadingChunk[] = [];
  for await (const c of readReadingsCsv(p, check)) chunks.push(c);
  expect(chunks).toHaveLength(1);
  expect(chunks[0]!.lines).toEqual([2]);
  expect(chunks[0]!.rejected.map((r) => [r.index, r.code])).toEqual([
    [3, 'BAD_USER_INPUT'],
    [4, 'BAD_VALUE'],
    [5, 'BAD_USER_INPUT'],
  ]);
});

test('a multi-byte character split across reads is fine; a bad byte is located exactly', async () => {
  const ok = file(HEADER + 'M-1,delivered,2025-01-01T00:00:00Z,900,1,kWh,€€€€\n');
  for (const readBytes of [4, 5, 6, 7])
    await expect(checkReadingsCsv(ok, { readBytes })).resolves.toBeDefined();
  const bad = Buffer.concat([
    Buffer.from(HEADER + 'a\nb€'),
    Buffer.from([0xe2, 0x28, 0xa1]),
    Buffer.from('\n'),
  ]);
  const p = file(bad);
  const at = Buffer.byteLength(HEADER + 'a\nb€');
  for (const readBytes of [4, 5, 6, 7, 1 << 16]) {
    await expect(checkReadingsCsv(p, { readBytes })).rejects.toMatchObject({
      code: 'MALFORMED_FILE',
      details: { line: 3, byteOffset: at },
    });
  }
});

test('memory stays bounded: a file with no line breaks fails at the limit, not at the end', async () => {
  const p = file(HEADER + 'x'.repeat(8 << 20));
  const before = process.memoryUsage().rss;
  await expect(checkReadingsCsv(p)).rejects.toMatchObject({
    code: 'MALFORMED_FILE',
    details: { line: 2 },
  });
  expect(process.memoryUsage().rss - before).toBeLessThan(64 << 20);
});
