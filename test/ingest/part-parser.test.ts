import path from 'node:path';
import zlib from 'node:zlib';
import type { ReadingInput } from '../../src/domain/readings';
import type { ReadingSource } from '../../src/domain/reading-columns';
import { parsePart, type PartJob, type PartParser as Parser } from '../../src/ingest/part-parser';
import { buildCli } from '../helpers/processes';

const HEADER = 'meter_serial,channel,interval_start,interval_seconds,value,unit\n';
const rows = (from: number, n: number) =>
  Array.from(
    { length: n },
    (_, k) =>
      `M-${1 + ((from + k) % 3)},delivered,2026-01-01T${String(Math.floor((from + k) / 4)).padStart(2, '0')}:${String(((from + k) % 4) * 15).padStart(2, '0')}:00Z,900,${((from + k) / 100).toFixed(2)},kWh\n`,
  ).join('');

// Part 0 holds the header and 10 rows (lines 1–11); part 1 holds lines 12–21, one of them bad.
const part0 = HEADER + rows(0, 10);
const part1 = rows(10, 4) + 'M-1,delivered,not-a-time,900,1,kWh\n' + rows(15, 5);

function job(seq: number, text: string, compressed: boolean, firstLine: number): PartJob {
  const bytes = Buffer.from(text);
  return {
    format: 'csv',
    profile: null,
    meter: null,
    data: compressed ? zlib.deflateRawSync(bytes) : bytes,
    compressed,
    preamble: Buffer.from(HEADER),
    preambleLines: 1,
    seq,
    firstLine,
  };
}

function all(src: ReadingSource): Array<ReadingInput & { line: number }> {
  const out: Array<ReadingInput & { line: number }> = [];
  for (let k = 0; k < src.length; k++) {
    const into = {} as ReadingInput;
    out.push({ ...src.fill(k, into), line: src.positionAt(k) });
  }
  return out;
}

test('a part after the first is parsed behind the header, with the file line numbers', async () => {
  const first = await parsePart(job(0, part0, false, 1));
  expect(first.readings.length).toBe(10);
  expect(first.readings.positions()).toEqual(Array.from({ length: 10 }, (_, k) => k + 2));
  const second = await parsePart(job(1, part1, true, 12));
  expect(second.readings.length).toBe(9);
  expect(second.readings.positions()).toEqual([12, 13, 14, 15, 17, 18, 19, 20, 21]);
  expect(second.rejections.map((r) => r.index)).toEqual([16]);
  expect(all(second.readings)[0]).toMatchObject({
    meterSerial: 'M-2',
    channel: 'delivered',
    intervalStart: Date.parse('2026-01-01T02:30:00Z'),
    intervalSeconds: 900,
    value: 0.1,
    unit: 'kWh',
    quality: null,
    line: 12,
  });
});

describe('in a parse thread', () => {
  // The thread runs the compiled entry: load the compiled PartParser, whose entry sits beside it.
  let PartParser: typeof Parser;
  beforeAll(async () => {
    await buildCli();
    ({ PartParser } = require(path.join(__dirname, '../../dist/src/ingest/part-parser.js')));
  }, 300_000);

  test('gives the same readings, positions and rejections as parsing in this thread', async () => {
    const parser = new PartParser(1);
    try {
      expect(parser.threads).toBe(1);
      for (const j of [job(0, part0, false, 1), job(1, part1, true, 12)]) {
        const inline = await parsePart(j);
        const threaded = await parser.parse({ ...j, data: Buffer.from(j.data) });
        expect(all(threaded.readings)).toEqual(all(inline.readings));
        expect(threaded.rejections).toEqual(inline.rejections);
      }
      expect(parser.running).toBe(1);
    } finally {
      await parser.close();
    }
  });

  test('large parts, whose buffers the thread hands back, parse the same, and the caller keeps its bytes', async () => {
    // Past Node's buffer pool (8 KiB): the part's bytes and its inflated text are transferred
    // back with the reply, while the caller's own copy stays as it was.
    const big = Array.from(
      { length: 2000 },
      (_, k) =>
        `M-${1 + (k % 3)},delivered,${new Date(Date.UTC(2026, 0, 1) + k * 900_000).toISOString().slice(0, 19)}Z,900,${(k / 100).toFixed(2)},kWh\n`,
    ).join('');
    const parser = new PartParser(1);
    try {
      for (const compressed of [true, false, true]) {
        const j = job(1, big, compressed, 2);
        const sent = Buffer.from(j.data);
        const threaded = await parser.parse(j);
        expect(Buffer.from(j.data).equals(sent)).toBe(true);
        const inline = await parsePart(job(1, big, compressed, 2));
        expect(threaded.readings.length).toBe(2000);
        expect(all(threaded.readings)).toEqual(all(inline.readings));
        expect(threaded.rejections).toEqual([]);
      }
    } finally {
      await parser.close();
    }
  });

  test('a part that cannot be parsed fails with the reason, and the thread goes on', async () => {
    const parser = new PartParser(1);
    try {
      const bad = { ...job(1, part1, false, 12), compressed: true }; // not deflate data
      await expect(parser.parse(bad)).rejects.toThrow(/invalid|incorrect|header|data/i);
      const good = await parser.parse(job(0, part0, false, 1));
      expect(good.readings.length).toBe(10);
    } finally {
      await parser.close();
    }
  });

  test('threads start with the first part offloaded, never while offload says no', async () => {
    let spare = false;
    const parser = new PartParser(1, undefined, () => spare);
    try {
      expect(parser.threads).toBe(1);
      expect(parser.running).toBe(0);
      const inline = await parser.parse(job(0, part0, false, 1));
      expect(inline.readings.length).toBe(10);
      expect(parser.running).toBe(0);
      spare = true;
      const threaded = await parser.parse(job(0, part0, false, 1));
      expect(parser.running).toBe(1);
      expect(all(threaded.readings)).toEqual(all(inline.readings));
      // Back to no core to spare: inline again, the thread stays for later parts.
      spare = false;
      expect((await parser.parse(job(1, part1, true, 12))).readings.length).toBe(
        (await parsePart(job(1, part1, true, 12))).readings.length,
      );
      expect(parser.running).toBe(1);
    } finally {
      await parser.close();
    }
    expect(parser.running).toBe(0);
    // A closed parser parses inline and starts nothing.
    spare = true;
    expect((await parser.parse(job(0, part0, false, 1))).readings.length).toBe(10);
    expect(parser.running).toBe(0);
  });

  test('with no threads asked for, parts are parsed in the calling thread', async () => {
    const parser = new PartParser(0);
    expect(parser.threads).toBe(0);
    const r = await parser.parse(job(0, part0, false, 1));
    expect(r.readings.length).toBe(10);
    expect(parser.running).toBe(0);
  });
});
