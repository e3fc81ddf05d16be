import fs from 'node:fs';
import { ErrorCode } from '../../../src/errors';
import { parseEspi } from '../../../src/ingest/formats/espi';
import { bytes, collect, fileBytes, fixture, iso, parseError } from './helpers';

/**
 * The expected total of a feed, computed without the parser: every <value> that sits directly
 * in an <IntervalReading> (the summaries' <value>s are elsewhere), found with a regular
 * expression over the raw file.
 */
function independentTotal(file: string): { count: number; totalWh: number } {
  const xml = fs.readFileSync(fixture(file), 'utf8');
  let count = 0;
  let totalWh = 0;
  for (const m of xml.matchAll(/<IntervalReading>([\s\S]*?)<\/IntervalReading>/g)) {
    const v = /<value>\s*(-?\d+)\s*<\/value>/.exec(m[1]!);
    if (!v) throw new Error('IntervalReading without a value');
    count++;
    totalWh += Number(v[1]);
  }
  return { count, totalWh };
}

describe('ESPI: the Green Button samples import exactly', () => {
  test('espi_15min_dst_spring_2012.xml: 1,340 readings, the 92-interval DST day, qualities, total', async () => {
    const file = 'espi_15min_dst_spring_2012.xml';
    const expected = independentTotal(file);
    expect(expected.count).toBe(1340);
    // Read in awkward 4 KiB pieces: entries, tags and numbers straddle piece boundaries.
    const { items, positions, rejections } = await collect(parseEspi(fileBytes(file, 4096)));
    expect(rejections).toEqual([]);
    expect(items).toHaveLength(1340);
    expect(positions).toEqual(items.map((_, i) => i + 1));
    const starts = items.map((i) => i.intervalStart as number);
    expect(iso(Math.min(...starts))).toBe('2012-03-01T05:00:00.000Z');
    // The last reading starts at 03:45Z and ends at 04:00Z on 2012-03-15.
    expect(iso(Math.max(...starts) + 900_000)).toBe('2012-03-15T04:00:00.000Z');
    expect(new Set(starts).size).toBe(1340);
    for (const it of items) {
      expect(it).toMatchObject({
        meterSerial: 'Front Electric Meter',
        channel: 'delivered',
        intervalSeconds: 900,
        unit: 'Wh',
      });
    }
    // The 2012-03-11 block (US spring-forward, local day from 05:00Z) holds 92 readings.
    const dayStart = Date.UTC(2012, 2, 11, 5);
    const dstDay = starts.filter((s) => s >= dayStart && s < dayStart + 82_800_000);
    expect(dstDay).toHaveLength(92);
    const withQuality = items.filter((i) => i.quality !== undefined);
    expect(withQuality.map((i) => [iso(i.intervalStart as number), i.quality])).toEqual([
      ['2012-03-01T05:00:00.000Z', 8],
      ['2012-03-01T05:15:00.000Z', 7],
    ]);
    const total = items.reduce((s, i) => s + (i.value as number), 0);
    expect(total).toBe(expected.totalWh);
  });

  test('espi_hourly_sample_cew821.xml: 362 hourly readings from 2011-01-01T08:00Z', async () => {
    const file = 'espi_hourly_sample_cew821.xml';
    const expected = independentTotal(file);
    expect(expected.count).toBe(362);
    const { items, rejections } = await collect(parseEspi(fileBytes(file, 1000)));
    expect(rejections).toEqual([]);
    expect(items).toHaveLength(362);
    expect(iso(items[0]!.intervalStart as number)).toBe('2011-01-01T08:00:00.000Z');
    const starts = items.map((i) => i.intervalStart as number);
    expect(starts.every((s, k) => k === 0 || s - starts[k - 1]! === 3_600_000)).toBe(true);
    for (const it of items) {
      expect(it).toMatchObject({
        meterSerial: 'Coastal Single Family',
        channel: 'delivered',
        intervalSeconds: 3600,
        unit: 'Wh',
      });
    }
    expect(items.reduce((s, i) => s + (i.value as number), 0)).toBe(expected.totalWh);
  });

  test('the meter option names the meter', async () => {
    const { items } = await collect(
      parseEspi(fileBytes('espi_hourly_sample_cew821.xml'), { meter: 'M-42' }),
    );
    expect(new Set(items.map((i) => i.meterSerial))).toEqual(new Set(['M-42']));
  });

  test('chunks hold at most chunkSize items, bytesRead grows to the file size', async () => {
    const file = 'espi_15min_dst_spring_2012.xml';
    const { chunks } = await collect(parseEspi(fileBytes(file), { chunkSize: 500 }));
    expect(chunks.map((c) => c.items.length)).toEqual([500, 500, 340]);
    expect(chunks[chunks.length - 1]!.bytesRead).toBe(fs.statSync(fixture(file)).size);
  });
});

// ---------------------------------------------------------------------------------------------
// Hand-written feeds

interface RtFields {
  uom?: number;
  p?: number;
  flow?: number;
  acc?: number;
  len?: number;
}

function readingType(id: string, f: RtFields): string {
  const el = (n: string, v: number | undefined) => (v === undefined ? '' : `<${n}>${v}</${n}>`);
  return `<entry><link rel="self" href="/espi/1_1/resource/ReadingType/${id}"/><title>RT ${id}</title>
  <content><ReadingType xmlns="http://naesb.org/espi">${el('accumulationBehaviour', f.acc ?? 4)}${el('flowDirection', f.flow ?? 1)}${el('intervalLength', f.len ?? 900)}${el('powerOfTenMultiplier', f.p ?? 0)}${el('uom', f.uom ?? 72)}</ReadingType></content></entry>`;
}

const UP = '/espi/1_1/resource/RetailCustomer/1/UsagePoint/UP9';

function usagePoint(title = 'SN-1001'): string {
  return `<entry><link rel="self" href="${UP}"/><link rel="related" href="${UP}/MeterReading"/><title>${title}</title>
  <content><UsagePoint xmlns="http://naesb.org/espi"><ServiceCategory><kind>0</kind></ServiceCategory></UsagePoint></content></entry>`;
}

function meterReading(id: string, rt: string | undefined): string {
  return `<entry><link rel="self" href="${UP}/MeterReading/${id}"/><link rel="related" href="${UP}/MeterReading/${id}/IntervalBlock"/>${rt ? `<link rel="related" href="/espi/1_1/resource/ReadingType/${rt}"/>` : ''}<title>MR ${id}</title>
  <content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>`;
}

function block(mr: string, start: number, values: Array<number | string>, extra = ''): string {
  const readings = values
    .map(
      (v, i) =>
        `<IntervalReading>${extra}<timePeriod><duration>900</duration><start>${start + i * 900}</start></timePeriod><value>${v}</value></IntervalReading>`,
    )
    .join('');
  return `<entry><link rel="self" href="${UP}/MeterReading/${mr}/IntervalBlock/1"/><link rel="up" href="${UP}/MeterReading/${mr}/IntervalBlock"/>
  <content><IntervalBlock xmlns="http://naesb.org/espi"><interval><duration>${values.length * 900}</duration><start>${start}</start></interval>${readings}</IntervalBlock></content></entry>`;
}

function feed(...entries: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n<id>x</id>\n${entries.join('\n')}\n</feed>\n`;
}

const T0 = 1_700_000_100; // 2023-11-14T22:15:00Z

describe('ESPI: linking, units, directions', () => {
  test('two MeterReadings under one UsagePoint: delivered and received by their ReadingTypes', async () => {
    const xml = feed(
      usagePoint(),
      meterReading('01', '07'),
      readingType('07', { flow: 1 }),
      meterReading('02', '08'),
      readingType('08', { flow: 19, p: 3 }),
      // The blocks come after both ReadingTypes: "most recent ReadingType" would be wrong.
      block('01', T0, [100, 200]),
      block('02', T0, [1, 2]),
    );
    const { items, rejections } = await collect(parseEspi(bytes(xml, 7)));
    expect(rejections).toEqual([]);
    expect(items.map((i) => [i.meterSerial, i.channel, i.value, i.unit])).toEqual([
      ['SN-1001', 'delivered', 100, 'Wh'],
      ['SN-1001', 'delivered', 200, 'Wh'],
      ['SN-1001', 'received', 1, 'kWh'],
      ['SN-1001', 'received', 2, 'kWh'],
    ]);
  });

  test('without links, blocks use the ReadingType that followed their MeterReading', async () => {
    const xml = feed(
      usagePoint(),
      meterReading('01', undefined),
      readingType('07', { flow: 1 }),
      meterReading('02', undefined),
      readingType('08', { flow: 19 }),
      block('02', T0, [5]),
      block('01', T0, [6]),
    );
    const { items } = await collect(parseEspi(bytes(xml)));
    expect(items.map((i) => [i.channel, i.value])).toEqual([
      ['received', 5],
      ['delivered', 6],
    ]);
  });

  test('powerOfTenMultiplier keeps values exact: Wh × 10^p, kWh for 3, Wh ÷ 10^-p', async () => {
    const cases: Array<[number, number, number, string]> = [
      [0, 1234, 1234, 'Wh'],
      [3, 1234, 1234, 'kWh'],
      [6, 2, 2, 'MWh'],
      [1, 1234, 12340, 'Wh'],
      [-3, 1234, 1.234, 'Wh'],
      [-1, 5, 0.5, 'Wh'],
    ];
    for (const [p, raw, value, unit] of cases) {
      const xml = feed(
        usagePoint(),
        meterReading('01', '07'),
        readingType('07', { p }),
        block('01', T0, [raw]),
      );
      const { items } = await collect(parseEspi(bytes(xml)));
      expect([items[0]!.value, items[0]!.unit]).toEqual([value, unit]);
    }
  });

  test('non-energy units, register reads and other directions are rejected per reading', async () => {
    const cases: Array<[RtFields, ErrorCode, RegExp]> = [
      [{ uom: 169 }, ErrorCode.BAD_UNIT, /therm/],
      [{ uom: 73 }, ErrorCode.BAD_UNIT, /VArh/],
      [{ acc: 1 }, ErrorCode.BAD_UNIT, /register reads/],
      [{ flow: 4 }, ErrorCode.UNKNOWN_CHANNEL, /flowDirection "4"/],
      [{ flow: 20 }, ErrorCode.UNKNOWN_CHANNEL, /flowDirection/],
    ];
    for (const [rt, code, message] of cases) {
      const xml = feed(
        usagePoint(),
        meterReading('01', '07'),
        readingType('07', rt),
        block('01', T0, [1, 2, 3]),
      );
      const { items, rejections } = await collect(parseEspi(bytes(xml)));
      expect(items).toEqual([]);
      expect(rejections.map((r) => [r.index, r.code])).toEqual([
        [1, code],
        [2, code],
        [3, code],
      ]);
      expect(rejections[0]!.message).toMatch(message);
    }
  });

  test('summaries’ <value> elements and <cost> are not readings; bad values are rejected, the rest kept', async () => {
    const summary = `<entry><link rel="self" href="${UP}/ElectricPowerUsageSummary/1"/><content><ElectricPowerUsageSummary xmlns="http://naesb.org/espi"><overallConsumptionLastPeriod><uom>72</uom><value>999999</value></overallConsumptionLastPeriod></ElectricPowerUsageSummary></content></entry>`;
    const xml = feed(
      usagePoint(),
      meterReading('01', '07'),
      readingType('07', {}),
      block('01', T0, [10, 'NaN', 'Infinity', '1e309', '1,5', 20], '<cost>5</cost>'),
      summary,
    );
    const { items, positions, rejections } = await collect(parseEspi(bytes(xml)));
    expect(items.map((i) => i.value)).toEqual([10, 20]);
    expect(positions).toEqual([1, 6]);
    expect(rejections.map((r) => [r.index, r.code])).toEqual([
      [2, ErrorCode.BAD_VALUE],
      [3, ErrorCode.BAD_VALUE],
      [4, ErrorCode.BAD_VALUE],
      [5, ErrorCode.BAD_VALUE],
    ]);
  });

  test('namespace prefixes are accepted', async () => {
    const xml = `<?xml version="1.0"?><atom:feed xmlns:atom="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">
<atom:entry><atom:link rel="self" href="${UP}"/><atom:title>P-1</atom:title><atom:content><espi:UsagePoint/></atom:content></atom:entry>
<atom:entry><atom:link rel="self" href="${UP}/MeterReading/1"/><atom:link rel="related" href="/espi/1_1/resource/ReadingType/1"/><atom:content><espi:MeterReading/></atom:content></atom:entry>
<atom:entry><atom:link rel="self" href="/espi/1_1/resource/ReadingType/1"/><atom:content><espi:ReadingType><espi:accumulationBehaviour>4</espi:accumulationBehaviour><espi:flowDirection>19</espi:flowDirection><espi:uom>72</espi:uom></espi:ReadingType></atom:content></atom:entry>
<atom:entry><atom:link rel="self" href="${UP}/MeterReading/1/IntervalBlock/1"/><atom:content><espi:IntervalBlock><espi:IntervalReading><espi:ReadingQuality><espi:quality>9</espi:quality></espi:ReadingQuality><espi:timePeriod><espi:duration>3600</espi:duration><espi:start>0</espi:start></espi:timePeriod><espi:value>7</espi:value></espi:IntervalReading></espi:IntervalBlock></atom:content></atom:entry>
</atom:feed>`;
    const { items } = await collect(parseEspi(bytes(xml)));
    // A 1970 start parses to 0 ms (validateReading rejects it later, not the parser).
    expect(items).toEqual([
      {
        meterSerial: 'P-1',
        channel: 'received',
        intervalStart: 0,
        intervalSeconds: 3600,
        value: 7,
        unit: 'Wh',
        quality: 9,
      },
    ]);
  });

  test('the meter comes from the UsagePoint id in the href when there is no title', async () => {
    const xml = feed(
      usagePoint(''),
      meterReading('01', '07'),
      readingType('07', {}),
      block('01', T0, [1]),
    );
    const { items } = await collect(parseEspi(bytes(xml)));
    expect(items[0]!.meterSerial).toBe('UP9');
  });

  test('no way to tell the meter and no --meter: MALFORMED_FILE naming the option', async () => {
    const xml = feed(
      readingType('07', {}),
      `<entry><content><IntervalBlock><IntervalReading><timePeriod><duration>900</duration><start>${T0}</start></timePeriod><value>1</value></IntervalReading></IntervalBlock></content></entry>`,
    );
    const err = await parseError(parseEspi(bytes(xml)));
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
    expect(err.message).toMatch(/--meter/);
    const { items } = await collect(parseEspi(bytes(xml), { meter: 'X1' }));
    expect(items.map((i) => i.meterSerial)).toEqual(['X1']);
  });

  test('--meter with readings of two UsagePoints is refused', async () => {
    const other = block('01', T0, [1]).replaceAll('UP9', 'UP8');
    const xml = feed(
      usagePoint(),
      meterReading('01', '07'),
      readingType('07', {}),
      block('01', T0, [1]),
      other,
    );
    const err = await parseError(parseEspi(bytes(xml), { meter: 'X' }));
    expect(err.message).toMatch(/several UsagePoints/);
  });

  test('a block before any ReadingType is a structural error', async () => {
    const xml = feed(usagePoint(), block('01', T0, [1]));
    const err = await parseError(parseEspi(bytes(xml)));
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
    expect(err.message).toMatch(/ReadingType/);
  });
});

describe('ESPI: malformed and hostile XML', () => {
  const ok = feed(
    usagePoint(),
    meterReading('01', '07'),
    readingType('07', {}),
    block('01', T0, [1, 2]),
  );

  test('a UTF-8 BOM is accepted', async () => {
    const { items } = await collect(
      parseEspi(bytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(ok)]))),
    );
    expect(items).toHaveLength(2);
  });

  test('truncated XML (unclosed elements at the end) is MALFORMED_FILE', async () => {
    for (const cut of [ok.length - 10, ok.indexOf('<IntervalReading>') + 30, ok.length / 2]) {
      const err = await parseError(parseEspi(bytes(ok.slice(0, cut), 64)));
      expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
      expect(err.message).toMatch(/truncated|not well-formed/);
    }
    const err = await parseError(parseEspi(bytes(ok.slice(0, ok.lastIndexOf('</feed>')))));
    expect(err.message).toMatch(/ends inside <feed> \(truncated file\?\)/);
    const mid = await parseError(parseEspi(bytes(ok.slice(0, ok.lastIndexOf('</entry>')))));
    expect(mid.message).toMatch(/ends inside <entry>/);
  });

  test('broken XML is MALFORMED_FILE with the line', async () => {
    const err = await parseError(parseEspi(bytes(ok.replace('</title>', '</titel>'))));
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
    expect(err.details.line).toBeGreaterThan(1);
  });

  test('a DTD is refused', async () => {
    const xml = ok.replace('<feed', '<!DOCTYPE feed SYSTEM "feed.dtd">\n<feed');
    const err = await parseError(parseEspi(bytes(xml)));
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
    expect(err.message).toMatch(/DTD/);
    expect(err.details.line).toBe(2);
  });

  test('billion laughs is refused before any expansion', async () => {
    const lol = [
      '<?xml version="1.0"?>',
      '<!DOCTYPE lolz [',
      ' <!ENTITY lol "lol">',
      ...Array.from(
        { length: 9 },
        (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`,
      ),
      ']>',
      '<feed><entry><title>&lol9;</title></entry></feed>',
    ].join('\n');
    const before = process.memoryUsage().heapUsed;
    const err = await parseError(parseEspi(bytes(lol)));
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
    expect(err.message).toMatch(/DTD/);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(50 * 1024 * 1024);
  });

  test('XXE is refused before any file is read', async () => {
    const openSync = jest.spyOn(fs, 'openSync');
    const readFileSync = jest.spyOn(fs, 'readFileSync');
    const open = jest.spyOn(fs, 'open');
    const readFile = jest.spyOn(fs.promises, 'readFile');
    try {
      const target = '/nonexistent/meterdata-xxe-must-never-be-read';
      const xxe = `<?xml version="1.0"?>\n<!DOCTYPE feed [ <!ENTITY xxe SYSTEM "file://${target}"> ]>\n<feed><entry><title>&xxe;</title></entry></feed>`;
      const err = await parseError(parseEspi(bytes(xxe)));
      expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
      expect(err.message).toMatch(/DTD/);
      expect(err.message).not.toMatch(/ENOENT/);
      for (const spy of [openSync, readFileSync, open, readFile]) {
        expect(spy.mock.calls.some((c) => String(c[0]).includes('meterdata-xxe'))).toBe(false);
      }
    } finally {
      jest.restoreAllMocks();
    }
  });

  test('an undeclared entity reference is refused (only the five XML ones exist)', async () => {
    const err = await parseError(
      parseEspi(bytes(ok.replace('<title>SN-1001</title>', '<title>&xxe;</title>'))),
    );
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
    expect(err.message).toMatch(/entity reference/);
    const fine = await collect(
      parseEspi(bytes(ok.replace('<title>SN-1001</title>', '<title>A&amp;B &#65;</title>'))),
    );
    expect(fine.items[0]!.meterSerial).toBe('A&B A');
  });

  test('a non-UTF-8 encoding declaration is refused', async () => {
    const err = await parseError(
      parseEspi(bytes(ok.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"'))),
    );
    expect(err.message).toMatch(/ISO-8859-1/);
  });

  test('invalid UTF-8 bytes: line and byte offset', async () => {
    const text = ok.replace('SN-1001', 'SN-10\u00e91');
    const buf = Buffer.from(text, 'utf8');
    const at = buf.indexOf(Buffer.from('\u00e9', 'utf8'));
    buf[at] = 0xff;
    const err = await parseError(parseEspi(bytes(buf, 5)));
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
    expect(err.details).toEqual({
      line: text.slice(0, text.indexOf('SN-10')).split('\n').length,
      byteOffset: at,
    });
  });

  test('a giant text node is bounded by maxRecordBytes', async () => {
    async function* giant(): AsyncGenerator<Buffer> {
      yield Buffer.from('<?xml version="1.0"?><feed><entry><title>');
      const piece = Buffer.alloc(1 << 20, 'a');
      for (let i = 0; i < 512; i++) yield piece; // 512 MiB if nothing stopped it
      yield Buffer.from('</title></entry></feed>');
    }
    const before = process.memoryUsage().heapUsed;
    const err = await parseError(parseEspi(giant(), { maxRecordBytes: 1 << 20 }));
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
    expect(err.message).toMatch(/longer than 1,048,576/);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
  });

  test('nesting is bounded', async () => {
    const deep = `<feed>${'<a>'.repeat(100)}${'</a>'.repeat(100)}</feed>`;
    const err = await parseError(parseEspi(bytes(deep)));
    expect(err.message).toMatch(/nest deeper/);
  });

  test('a root that is not a feed is refused', async () => {
    const err = await parseError(parseEspi(bytes('<html><body/></html>')));
    expect(err.message).toMatch(/root element/);
  });

  test.each([
    ['espi_dtd.xml', /DTD/, 2],
    ['espi_billion_laughs.xml', /DTD/, 13],
    ['espi_xxe.xml', /DTD/, 4],
    ['espi_truncated.xml', /ends inside <timePeriod> \(truncated file\?\)/, undefined],
  ])('fixture %s is MALFORMED_FILE', async (file, message, line) => {
    const err = await parseError(parseEspi(fileBytes(file, 512)));
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
    expect(err.message).toMatch(message);
    if (line !== undefined) expect(err.details.line).toBe(line);
  });

  test('an empty file is refused', async () => {
    const err = await parseError(parseEspi(bytes('')));
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
  });
});

describe('ESPI: readings read without the XML parser give what it gives', () => {
  // An IntervalReading in its usual shape, right after a tag inside an IntervalBlock, is read
  // straight from the text; an empty comment before it sends it through saxes instead. Both
  // must give the same items, positions, rejections and errors, whatever the readings hold.
  const throughSaxes = (xml: string) =>
    xml.replace(/(?<!<!-- )<((\w+:)?IntervalReading)>/g, '<!----><$1>');

  const readings = [
    '<IntervalReading><timePeriod><duration>900</duration><start>{t}</start></timePeriod><value>10</value></IntervalReading>',
    '<IntervalReading>\n  <cost>12</cost>\n  <ReadingQuality>\n    <quality>8</quality>\n  </ReadingQuality>\n  <timePeriod>\n    <start> {t} </start>\n    <duration>900</duration>\n  </timePeriod>\n  <value> 11 </value>\n</IntervalReading>',
    '<espi:IntervalReading><espi:timePeriod><espi:duration>900</espi:duration><espi:start>{t}</espi:start></espi:timePeriod><espi:value>-2.5e1</espi:value></espi:IntervalReading>',
    '<IntervalReading><timePeriod><start>{t}</start></timePeriod><value>13</value></IntervalReading>',
    '<IntervalReading><timePeriod><duration>900</duration><start>{t}</start></timePeriod><value></value></IntervalReading>',
    '<IntervalReading><timePeriod><duration>900</duration><start>{t}</start></timePeriod></IntervalReading>',
    '<IntervalReading><timePeriod><duration>0</duration><start>{t}</start></timePeriod><value>1</value></IntervalReading>',
    '<IntervalReading><ReadingQuality><quality>99</quality></ReadingQuality><timePeriod><duration>900</duration><start>{t}</start></timePeriod><value>1</value></IntervalReading>',
    '<IntervalReading><timePeriod><duration>900</duration><start>{t}</start></timePeriod><value>1 2</value></IntervalReading>',
    '<IntervalReading><timePeriod><duration>900</duration><start>{t}x</start></timePeriod><value>1</value></IntervalReading>',
    '<IntervalReading><timePeriod><duration>900</duration><start>{t}</start></timePeriod><value>&#49;4</value></IntervalReading>',
    '<IntervalReading id="r"><timePeriod><duration>900</duration><start>{t}</start></timePeriod><value>15</value></IntervalReading>',
    '<IntervalReading><tou>1</tou><timePeriod><duration>900</duration><start>{t}</start></timePeriod><value>16</value></IntervalReading>',
    '<IntervalReading><timePeriod><duration>900</duration><start>{t}</start></timePeriod><value>17</value><!-- note --></IntervalReading>',
    '<!-- <IntervalReading><timePeriod><duration>900</duration><start>{t}</start></timePeriod><value>999</value></IntervalReading> -->',
    '<IntervalReading>\r\n<timePeriod><duration>900</duration><start>{t}</start></timePeriod><value>18\r\n</value></IntervalReading>',
    '<IntervalReading><timePeriod><duration>900</duration><start>{t}</start></timePeriod><value>19</value></IntervalReading>',
    '<IntervalReading><timePeriod><duration>900</duration><start>{t}</start></timePeriod><value>-1.5</value></IntervalReading>',
    '<IntervalReading><timePeriod><duration>900</duration><start>{t}</start></timePeriod><value>2e1</value></IntervalReading>',
    '<IntervalReading><timePeriod><duration></duration><start>{t}</start></timePeriod><value>1</value></IntervalReading>',
  ];

  function bigFeed(): string {
    const body = readings.map((r, i) => r.replaceAll('{t}', String(T0 + i * 900))).join('\n');
    return feed(
      usagePoint(),
      meterReading('1', 'RT1'),
      readingType('RT1', {}),
      `<entry><link rel="self" href="${UP}/MeterReading/1/IntervalBlock/1"/>
  <content><espi:IntervalBlock xmlns:espi="http://naesb.org/espi"><espi:interval><espi:duration>900</espi:duration><espi:start>${T0}</espi:start></espi:interval>
${body}
</espi:IntervalBlock></content></entry>`,
    );
  }

  test.each([1, 7, 100, 1 << 16])('pieces of %d bytes', async (size) => {
    const xml = bigFeed();
    const fast = await collect(parseEspi(bytes(xml, size)));
    const general = await collect(parseEspi(bytes(throughSaxes(xml), size)));
    expect(fast.items).toEqual(general.items);
    expect(fast.positions).toEqual(general.positions);
    expect(fast.rejections).toEqual(general.rejections);
    // Not an empty case: readings and rejections both, and the commented-out one is not read.
    expect(fast.items.map((i) => i.value)).toEqual([
      10, 11, -25, 13, 14, 15, 16, 17, 18, 19, -1.5, 20, 1,
    ]);
    expect(fast.rejections).toHaveLength(6);
  });

  test('line numbers of a later error count the lines of readings read without saxes', async () => {
    const xml = bigFeed().replace(
      '</content></entry>',
      '</content></entry>\n<entry><oops></entry>',
    );
    const fast = await parseError(parseEspi(bytes(xml)));
    const general = await parseError(parseEspi(bytes(throughSaxes(xml))));
    expect(fast.code).toBe(ErrorCode.MALFORMED_FILE);
    expect(fast).toEqual(general);
    expect(fast.details.line).toBe(xml.slice(0, xml.indexOf('<oops>')).split('\n').length);
  });

  test('a comment with "--" inside a reading is refused both ways', async () => {
    const xml = bigFeed().replace('<value>19</value>', '<value>19</value><!-- a -- b -->');
    const fast = await parseError(parseEspi(bytes(xml)));
    expect(fast.code).toBe(ErrorCode.MALFORMED_FILE);
    const general = await parseError(parseEspi(bytes(throughSaxes(xml))));
    // The same error on the same line (the column differs by the comment added before it).
    expect([fast.message, fast.details.line]).toEqual([general.message, general.details.line]);
  });

  test('a truncated feed ending inside a reading is refused', async () => {
    const xml = bigFeed();
    const cut = xml.slice(0, xml.lastIndexOf('<value>19'));
    const err = await parseError(parseEspi(bytes(cut)));
    expect(err.code).toBe(ErrorCode.MALFORMED_FILE);
  });
});
