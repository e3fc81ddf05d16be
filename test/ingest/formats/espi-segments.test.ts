import { ErrorCode } from '../../../src/errors';
import type { ReadingInput, Rejection } from '../../../src/domain/readings';
import { parseEspi } from '../../../src/ingest/formats/espi';
import {
  type EspiSegments,
  isEspiSegments,
  landEspi,
  partsOf,
  readSegments,
  SegmentBuilder,
} from '../../../src/ingest/formats/espi-segments';
import { compactRun } from '../../../src/ingest/formats/espi-readings';
import { bytes, collect, fixture, parseError } from './helpers';
import fs from 'node:fs';

/**
 * The landing's way (structure checked, template readings left in the file as segments, read
 * later from the stored parts) must give exactly what parsing the feed at once gives.
 */
interface Result {
  readings: Array<{ position: number; item: ReadingInput }>;
  rejections: Rejection[];
  segmentChunks: EspiSegments[];
  parsedReadings: number;
  counted: number;
}

async function landed(
  xml: string | Buffer,
  opts: { piece?: number; partBytes?: number; chunkSize?: number; meter?: string } = {},
): Promise<Result> {
  const file = typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml;
  const partBytes = opts.partBytes ?? 1 << 20;
  const out: Result = {
    readings: [],
    rejections: [],
    segmentChunks: [],
    parsedReadings: 0,
    counted: 0,
  };
  for await (const l of landEspi(bytes(file, opts.piece ?? 1 << 16), {
    partBytes,
    chunkSize: opts.chunkSize,
    meter: opts.meter,
  })) {
    if (l.kind === 'parsed') {
      const items = l.chunk.items;
      items.forEach((item, i) => out.readings.push({ position: l.chunk.positions[i]!, item }));
      out.parsedReadings += items.length;
      out.rejections.push(...l.chunk.rejections);
    } else {
      out.segmentChunks.push(l.segments);
      out.counted += l.readings;
      // What a worker does: read the stored parts under the segments, and parse them.
      const { first, last } = partsOf(l.segments);
      const parts = file.subarray(first * partBytes, Math.min(file.length, (last + 1) * partBytes));
      const r = readSegments(parts, first * partBytes, l.segments);
      const items = r.readings.items();
      items.forEach((item, i) => out.readings.push({ position: r.readings.positionAt(i), item }));
      out.rejections.push(...r.rejections);
    }
  }
  out.readings.sort((a, b) => a.position - b.position);
  out.rejections.sort((a, b) => a.index - b.index);
  return out;
}

async function expectSameAsParse(
  xml: string | Buffer,
  opts: { piece?: number; partBytes?: number; chunkSize?: number; meter?: string } = {},
): Promise<Result> {
  const whole = await collect(
    parseEspi(bytes(xml, opts.piece ?? 1 << 16), { meter: opts.meter, chunkSize: 1_000_000 }),
  );
  const l = await landed(xml, opts);
  expect(l.readings.map((r) => r.position)).toEqual(whole.positions);
  expect(l.readings.map((r) => r.item)).toEqual(whole.items);
  expect(l.rejections).toEqual([...whole.rejections].sort((a, b) => a.index - b.index));
  return l;
}

const UP = '/espi/1_1/resource/RetailCustomer/1/UsagePoint/UP9';

function header(
  title: string,
  rt = '<flowDirection>1</flowDirection><powerOfTenMultiplier>-3</powerOfTenMultiplier>',
): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>x</id><title>Zähler für Straße ☀</title>
<entry><link rel="self" href="${UP}"/><title>${title}</title><content><UsagePoint xmlns="http://naesb.org/espi"/></content></entry>
<entry><link rel="self" href="${UP}/MeterReading/1"/><link rel="related" href="/espi/1_1/resource/ReadingType/7"/><content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>
<entry><link rel="self" href="/espi/1_1/resource/ReadingType/7"/><content><ReadingType xmlns="http://naesb.org/espi"><accumulationBehaviour>4</accumulationBehaviour>${rt}<intervalLength>900</intervalLength><uom>72</uom></ReadingType></content></entry>
`;
}

const T0 = 1_700_000_100;

function compact(t: number, v: string | number): string {
  return `<IntervalReading><timePeriod><duration>900</duration><start>${t}</start></timePeriod><value>${v}</value></IntervalReading>`;
}

/** Blocks of `perBlock` compact readings, one entry each, a non-ASCII title between some. */
function compactFeed(blocks: number, perBlock: number, sep = '\n'): string {
  let xml = header('Zähler Nord-Ost 🌩');
  for (let b = 0; b < blocks; b++) {
    const readings: string[] = [];
    for (let i = 0; i < perBlock; i++) {
      const t = T0 + (b * perBlock + i) * 900;
      readings.push(compact(t, ((b * 31 + i * 7) % 997) + (i % 3 === 0 ? 0.5 : 0)));
    }
    xml += `<entry><link rel="self" href="${UP}/MeterReading/1/IntervalBlock/${b}"/><title>Block ${b} — Tag ${b % 2 ? 'Mo' : 'Dö'}</title><content><IntervalBlock xmlns="http://naesb.org/espi"><interval><duration>86400</duration><start>${T0}</start></interval>${sep}${readings.join(sep)}${sep}</IntervalBlock></content></entry>\n`;
  }
  return `${xml}</feed>\n`;
}

/** One block mixing every shape: compact, pretty-printed, prefixed, and ones only saxes reads. */
function mixedFeed(): string {
  const shapes = [
    (t: number) => compact(t, 10),
    (t: number) => compact(t, 11),
    (t: number) =>
      `<IntervalReading>\n  <ReadingQuality><quality>8</quality></ReadingQuality>\n  <timePeriod>\n    <start> ${t} </start><duration>900</duration>\n  </timePeriod>\n  <value> 12 </value>\n</IntervalReading>`,
    (t: number) => compact(t, -1.5),
    (t: number) =>
      `<IntervalReading id="a"><timePeriod><duration>900</duration><start>${t}</start></timePeriod><value>13</value></IntervalReading>`,
    (t: number) => compact(t, ''),
    (t: number) =>
      `<IntervalReading><timePeriod><duration>900</duration><start>${t}</start></timePeriod><value>&#49;4</value></IntervalReading>`,
    (t: number) => compact(t, '1.2.3'),
    (t: number) =>
      `<IntervalReading><!-- é --><timePeriod><duration>900</duration><start>${t}</start></timePeriod><value>15</value></IntervalReading>`,
    (t: number) =>
      `<IntervalReading><timePeriod><duration>0</duration><start>${t}</start></timePeriod><value>16</value></IntervalReading>`,
    (t: number) => compact(t, 17),
    (t: number) => compact(t, 18),
    // Out of range or too many digits for the fast way: rejected as the full parser does.
    (t: number) => compact(t, '12345678901234'),
    (t: number) => compact(t, '1234567890123456'),
    (_t: number) => compact(1234567890123456, 19),
    (t: number) => compact(t, '999999999999'),
  ];
  const body = shapes.map((f, i) => f(T0 + i * 900)).join('\r\n');
  return `${header('SN ünïcode')}<entry><link rel="self" href="${UP}/MeterReading/1/IntervalBlock/1"/><content><IntervalBlock xmlns="http://naesb.org/espi"><interval><duration>900</duration><start>${T0}</start></interval>
${body}
</IntervalBlock></content></entry>
</feed>
`;
}

describe('ESPI landed as segments gives what parsing the feed gives', () => {
  test.each([
    ['espi_15min_dst_spring_2012.xml', 1340],
    ['espi_hourly_sample_cew821.xml', 362],
  ])('%s, read in pieces of 1, 97 and 65,536 bytes, parts of 1 KiB', async (name, count) => {
    const file = fs.readFileSync(fixture(name));
    for (const piece of [1, 97, 1 << 16]) {
      const l = await expectSameAsParse(file, { piece, partBytes: 1024, chunkSize: 500 });
      expect(l.readings).toHaveLength(count);
    }
  });

  test('compact blocks with non-ASCII text between them: byte offsets, pieces and parts of any size', async () => {
    const xml = compactFeed(12, 96);
    for (const [piece, partBytes] of [
      [1, 1000],
      [13, 4096],
      [4096, 333],
      [1 << 16, 1 << 20],
    ] as const) {
      const l = await expectSameAsParse(xml, { piece, partBytes, chunkSize: 250 });
      expect(l.readings).toHaveLength(12 * 96);
      // Every reading of these blocks is left in the file, none parsed at the landing.
      expect(l.parsedReadings).toBe(0);
      expect(l.counted).toBe(12 * 96);
    }
  });

  test('segments lie within one block, chunks close once they reach chunkSize, contexts are shared', async () => {
    const xml = compactFeed(10, 96);
    for (const piece of [512, 1 << 16]) {
      const l = await landed(xml, { chunkSize: 200, piece });
      const all = l.segmentChunks.flatMap((c) => c.s);
      for (const [start, end] of all) {
        const text = Buffer.from(xml).subarray(start, end).toString('utf8');
        expect(text.startsWith('<IntervalReading>')).toBe(true);
        expect(text.trimEnd().endsWith('</IntervalReading>')).toBe(true);
        expect(text).not.toMatch(/IntervalBlock|entry/);
      }
      // Ordinals follow on from segment to segment, and every reading is in one.
      let next = 1;
      for (const [, , first, count] of all) {
        expect(first).toBe(next);
        next += count;
      }
      expect(next - 1).toBe(960);
      const sizes = l.segmentChunks.map((c) => c.s.reduce((n, s) => n + s[3], 0));
      for (const n of sizes.slice(0, -1)) expect(n).toBeGreaterThanOrEqual(200);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(960);
      // One meter and ReadingType: one context per chunk, whatever the blocks.
      for (const c of l.segmentChunks) {
        expect(c.ctx).toEqual([
          {
            m: 'Zähler Nord-Ost 🌩',
            rt: {
              accumulationBehaviour: '4',
              flowDirection: '1',
              powerOfTenMultiplier: '-3',
              intervalLength: '900',
              uom: '72',
            },
          },
        ]);
      }
    }
    // In pieces of 64 KiB, a block's readings are one segment unless a chunk closes inside it.
    const l = await landed(xml, { chunkSize: 100_000 });
    expect(l.segmentChunks.flatMap((c) => c.s.map((s) => s[3]))).toEqual(Array(10).fill(96));
  });

  test('every shape in one block, CRLF line ends, in any pieces: readings and rejections alike', async () => {
    const xml = mixedFeed();
    for (const piece of [1, 5, 64, 1 << 16]) {
      const l = await expectSameAsParse(xml, { piece, partBytes: 256, chunkSize: 3 });
      // The attribute and the character reference go through the XML parser at the landing.
      expect(l.parsedReadings).toBe(2);
      expect(l.readings.map((r) => r.item.value)).toEqual([
        0.01,
        0.011,
        0.012,
        -0.0015,
        0.013,
        0.014,
        0.015,
        0.017,
        0.018,
        999999999999 / 1000,
      ]);
      expect(l.rejections.map((r) => [r.index, r.code])).toEqual([
        [6, ErrorCode.BAD_VALUE],
        [8, ErrorCode.BAD_VALUE],
        [10, ErrorCode.BAD_VALUE],
        [13, ErrorCode.BAD_VALUE],
        [14, ErrorCode.BAD_VALUE],
        [15, ErrorCode.BAD_TIMESTAMP],
      ]);
    }
  });

  test('a ReadingType that is not interval energy: its readings are rejected by the worker, per reading', async () => {
    const xml = compactFeed(2, 4).replace('<uom>72</uom>', '<uom>38</uom>');
    const l = await expectSameAsParse(xml);
    expect(l.readings).toHaveLength(0);
    expect(l.rejections).toHaveLength(8);
    expect(l.rejections[0]).toMatchObject({
      index: 1,
      code: ErrorCode.BAD_UNIT,
      meterSerial: 'Zähler Nord-Ost 🌩',
    });
  });

  test('--meter names the meter of every segment', async () => {
    const l = await expectSameAsParse(compactFeed(3, 5), { meter: 'M-42' });
    expect(l.segmentChunks.flatMap((c) => c.ctx.map((x) => x.m))).toEqual(['M-42']);
  });
});

describe('ESPI landed as segments: structural errors are the full parser’s', () => {
  const errorCases: Array<[string, (xml: string) => string]> = [
    [
      'a broken close tag inside a run of compact readings',
      (x) =>
        x.replace(
          '</value></IntervalReading>\n<IntervalReading><timePeriod><duration>900</duration><start>1700045100',
          '</value></IntervalReadin>\n<IntervalReading><timePeriod><duration>900</duration><start>1700045100',
        ),
    ],
    ['a truncated feed ending inside a run', (x) => x.slice(0, x.indexOf('<start>1700045100') + 9)],
    [
      'a truncated feed ending between readings',
      (x) =>
        x.slice(
          0,
          x.indexOf('<IntervalReading><timePeriod><duration>900</duration><start>1700045100'),
        ),
    ],
    ['a DTD', (x) => x.replace('<feed ', '<!DOCTYPE feed [<!ENTITY a "b">]><feed ')],
    [
      'an error after many compact readings (its line)',
      (x) => x.replace('</feed>', '<oops></feed>'),
    ],
  ];

  test.each(errorCases)('%s', async (_name, spoil) => {
    const xml = spoil(compactFeed(4, 96));
    for (const piece of [7, 1 << 16]) {
      const whole = await parseError(parseEspi(bytes(xml, piece)));
      expect(whole.code).toBe(ErrorCode.MALFORMED_FILE);
      let caught: unknown = null;
      try {
        await landed(xml, { piece });
      } catch (e) {
        caught = e;
      }
      expect(caught).toMatchObject({ code: whole.code, message: whole.message });
      expect((caught as { details: unknown }).details).toEqual(whole.details);
    }
  });
});

describe('compactRun and readSegments', () => {
  test('compactRun covers whole compact readings and the white space after them, and counts them', () => {
    const text = `x${compact(1, 2)}\n ${compact(3, -4.5)}\n<IntervalReading><timePeriod>`;
    expect(compactRun(text, 0)).toBeNull();
    const run = compactRun(text, 1)!;
    expect(run.count).toBe(2);
    expect(text.slice(run.end)).toBe('<IntervalReading><timePeriod>');
    expect(compactRun(`${compact(1, 2)}`.replace('<value>', '<value> '), 0)).toBeNull();
  });

  test('a segment that does not hold what the landing counted is an error, not a silent loss', () => {
    const xml = Buffer.from(`${compact(T0, 1)}\n${compact(T0 + 900, 2)}`);
    const seg = (s: EspiSegments['s']): EspiSegments => ({
      v: 1,
      partBytes: 1 << 20,
      ctx: [{ m: 'M', rt: { accumulationBehaviour: '4', uom: '72', flowDirection: '1' } }],
      s,
    });
    expect(
      readSegments(xml, 0, seg([[0, xml.length, 1, 2, 0]]))
        .readings.items()
        .map((r) => r.value),
    ).toEqual([1, 2]);
    expect(() => readSegments(xml, 0, seg([[0, xml.length, 1, 3, 0]]))).toThrow(
      /holds 2 readings, not 3/,
    );
    expect(() => readSegments(xml, 0, seg([[5, xml.length, 1, 2, 0]]))).toThrow(
      /something other than readings/,
    );
    expect(() => readSegments(xml, 10, seg([[0, xml.length, 1, 2, 0]]))).toThrow(
      /outside the parts read/,
    );
    expect(() => readSegments(xml, 0, seg([[0, xml.length, 1, 2, 4]]))).toThrow(
      /outside the parts read/,
    );
  });

  test('isEspiSegments and partsOf', () => {
    const s: EspiSegments = {
      v: 1,
      partBytes: 100,
      ctx: [],
      s: [
        [150, 420, 1, 3, 0],
        [90, 120, 4, 1, 0],
      ],
    };
    expect(isEspiSegments(s)).toBe(true);
    expect(isEspiSegments({ ...s, v: 2 })).toBe(false);
    expect(isEspiSegments({ ...s, partBytes: 0 })).toBe(false);
    expect(isEspiSegments(null)).toBe(false);
    expect(partsOf(s)).toEqual({ first: 0, last: 4 });
    expect(partsOf({ ...s, s: [[200, 300, 1, 1, 0]] })).toEqual({ first: 2, last: 2 });
  });
});

describe('SegmentBuilder', () => {
  const rt = { uom: '72' };
  /** Adds runs of [meter, readings] back to back; returns each chunk's meters and readings. */
  function chunksOf(size: number, runs: Array<[string, number]>) {
    const b = new SegmentBuilder(size, 1 << 20);
    const out: Array<{ meters: string[]; readings: number }> = [];
    const take = (c: { segments: EspiSegments; readings: number }) =>
      out.push({ meters: [...new Set(c.segments.ctx.map((x) => x.m))], readings: c.readings });
    let at = 0;
    let ordinal = 1;
    for (const [meter, n] of runs) {
      b.add(meter, rt, at, at + n * 100, ordinal, n);
      at += n * 100;
      ordinal += n;
      for (const c of b.takeReady()) take(c);
    }
    if (!b.empty) take(b.take());
    return out;
  }

  test('a chunk that has its size ends where the meter changes', () => {
    expect(
      chunksOf(10, [
        ['A', 6],
        ['A', 6], // 12: full, but A goes on
        ['B', 3], // a new meter: the chunk of A ends before it
        ['B', 4],
        ['C', 5], // B's chunk has 7: C joins it
        ['C', 2],
        ['D', 1],
      ]),
    ).toEqual([
      { meters: ['A'], readings: 12 },
      { meters: ['B', 'C'], readings: 14 },
      { meters: ['D'], readings: 1 },
    ]);
  });

  test('one meter ends its chunk at twice the size', () => {
    expect(
      chunksOf(
        10,
        Array.from({ length: 9 }, () => ['A', 5] as [string, number]),
      ),
    ).toEqual([
      { meters: ['A'], readings: 20 },
      { meters: ['A'], readings: 20 },
      { meters: ['A'], readings: 5 },
    ]);
  });
});
