/**
 * Throughput of each parser on large generated files (items per second, MB/s, heap). Slow, so
 * it runs only when asked: METERDATA_THROUGHPUT=1 npm run jest -- test/ingest/formats/throughput
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCmep } from '../../../src/ingest/formats/cmep';
import { csvParser } from '../../../src/ingest/formats/csv';
import { type CsvProfile } from '../../../src/ingest/formats/csv-profile';
import { parseEspi } from '../../../src/ingest/formats/espi';
import { type FormatParser, type ParseOptions } from '../../../src/ingest/formats/types';

const run = process.env.METERDATA_THROUGHPUT ? describe : describe.skip;
const SCALE = Number(process.env.METERDATA_THROUGHPUT_SCALE ?? 1);
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

/** Writes a file from generated lines, in 1 MiB batches (never the whole file in memory). */
function writeFile(name: string, lines: () => Generator<string>): string {
  const file = path.join(os.tmpdir(), `meterdata-throughput-${process.pid}-${name}`);
  const fd = fs.openSync(file, 'w');
  let batch: string[] = [];
  let size = 0;
  for (const l of lines()) {
    batch.push(l);
    size += l.length;
    if (size > 1 << 20) {
      fs.writeSync(fd, batch.join(''));
      batch = [];
      size = 0;
    }
  }
  fs.writeSync(fd, batch.join(''));
  fs.closeSync(fd);
  return file;
}

async function measure(label: string, parse: FormatParser, file: string, opts?: ParseOptions) {
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let peakHeap = 0;
  let items = 0;
  let rejected = 0;
  const t = process.hrtime.bigint();
  const input = fs.createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
  for await (const c of parse(input, opts)) {
    items += c.items.length;
    rejected += c.rejections.length;
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  const mb = fs.statSync(file).size / 1e6;
  const line = `${label.padEnd(44)} ${items.toLocaleString('en-US').padStart(11)} items ${s.toFixed(2).padStart(6)} s ${Math.round(
    items / s,
  )
    .toLocaleString('en-US')
    .padStart(
      10,
    )} items/s ${(mb / s).toFixed(1).padStart(6)} MB/s  heap +${Math.round((peakHeap - heapBefore) / 1e6)} MB`;
  console.log(line);
  fs.unlinkSync(file);
  expect(rejected).toBe(0);
  return { items, seconds: s };
}

run('parser throughput', () => {
  jest.setTimeout(600_000);
  const meters = 1000;

  test('CSV, built-in meterdata profile (ISO with offset)', async () => {
    const rows = 2_000_000 * SCALE;
    const file = writeFile('meterdata.csv', function* () {
      yield 'meter_serial,channel,interval_start,interval_seconds,value,unit\n';
      for (let i = 0; i < rows; i++) {
        const ts = new Date(T0 + Math.floor(i / meters) * 900_000).toISOString();
        yield `MTR${i % meters},delivered,${ts},900,${(i % 997) / 1000},kWh\n`;
      }
    });
    await measure('csv meterdata (ISO Z)', csvParser(), file);
  });

  test('CSV, German-style profile (luxon format, decimal comma, Europe/Berlin, interval end)', async () => {
    const rows = 1_000_000 * SCALE;
    const profile: CsvProfile = {
      delimiter: ';',
      decimalSeparator: ',',
      columns: {
        meter: 'Zaehler',
        date: 'Datum',
        time: 'Uhrzeit',
        value: 'Wert',
        channel: { constant: 'delivered' },
        unit: { constant: 'kWh' },
        intervalSeconds: { constant: 900 },
      },
      timestampFormat: 'dd.MM.yyyy HH:mm',
      timestampConvention: 'interval_end',
      timeZone: 'Europe/Berlin',
      ambiguousTime: 'order',
    };
    const perMeter = 96 * 30;
    const file = writeFile('de.csv', function* () {
      yield 'Zaehler;Datum;Uhrzeit;Wert\n';
      for (let i = 0; i < rows; i++) {
        // one meter after the other, each a month of quarter hours in January (no DST)
        const d = new Date(T0 + ((i % perMeter) + 1) * 900_000);
        const p = (n: number) => String(n).padStart(2, '0');
        yield `Z${Math.floor(i / perMeter)};${p(d.getUTCDate())}.${p(d.getUTCMonth() + 1)}.${d.getUTCFullYear()};${p(d.getUTCHours())}:${p(d.getUTCMinutes())};${i % 7},${i % 1000}\n`;
      }
    });
    await measure('csv luxon format + Europe/Berlin', csvParser(profile), file);
  });

  test('CSV, wide layout (100 columns, America/Chicago)', async () => {
    const days = 10_000 * SCALE;
    const profile: CsvProfile = {
      layout: 'wide',
      columns: {
        meter: 'meter',
        channel: { constant: 'delivered' },
        date: 'date',
        unit: { constant: 'kWh' },
        intervalSeconds: { constant: 900 },
      },
      intervalColumns: { from: 'i1', count: 100 },
      timeZone: 'America/Chicago',
    };
    const file = writeFile('wide.csv', function* () {
      yield `meter,date,${Array.from({ length: 100 }, (_, k) => `i${k + 1}`).join(',')}\n`;
      const cells = Array.from({ length: 96 }, (_, k) => (k / 100).toFixed(3)).join(',') + ',,,,';
      for (let i = 0; i < days; i++) {
        const date = new Date(T0 + Math.floor(i / meters) * DAY).toISOString().slice(0, 10);
        yield `M${i % meters},${date},${cells}\n`;
      }
    });
    await measure('csv wide layout', csvParser(profile), file);
  });

  test('CMEP MEPMD01 (96 triplets per record, empty times after the first)', async () => {
    const records = 20_000 * SCALE;
    const file = writeFile('cmep.txt', function* () {
      for (let i = 0; i < records; i++) {
        const day = new Date(T0 + Math.floor(i / meters) * DAY);
        const first = `${day.toISOString().slice(0, 10).replaceAll('-', '')}0015`;
        const triplets = Array.from(
          { length: 96 },
          (_, k) => `${k === 0 ? first : ''},R0,${(k % 50) / 10}`,
        ).join(',');
        yield `MEPMD01,19970819,HE,,MDMS,,202401020000,M${i % meters},OK,E,KWH,1,00000015,96,${triplets}\n`;
      }
    });
    await measure('cmep', parseCmep, file, { cmep: { timeZone: '-06:00' } });
  });

  test('ESPI Atom feed (daily IntervalBlocks of 96 readings)', async () => {
    const blocks = 20_000 * SCALE;
    const file = writeFile('espi.xml', function* () {
      const up = '/espi/1_1/resource/RetailCustomer/1/UsagePoint/1';
      yield `<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n`;
      yield `<entry><link rel="self" href="${up}"/><title>SN-1</title><content><UsagePoint xmlns="http://naesb.org/espi"/></content></entry>\n`;
      yield `<entry><link rel="self" href="${up}/MeterReading/1"/><link rel="related" href="/espi/1_1/resource/ReadingType/1"/><content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>\n`;
      yield `<entry><link rel="self" href="/espi/1_1/resource/ReadingType/1"/><content><ReadingType xmlns="http://naesb.org/espi"><accumulationBehaviour>4</accumulationBehaviour><flowDirection>1</flowDirection><intervalLength>900</intervalLength><powerOfTenMultiplier>0</powerOfTenMultiplier><uom>72</uom></ReadingType></content></entry>\n`;
      for (let b = 0; b < blocks; b++) {
        const start = T0 / 1000 + b * 86400;
        let s = `<entry><link rel="self" href="${up}/MeterReading/1/IntervalBlock/${b}"/><content><IntervalBlock xmlns="http://naesb.org/espi"><interval><duration>86400</duration><start>${start}</start></interval>\n`;
        for (let k = 0; k < 96; k++) {
          s += `  <IntervalReading><cost>12</cost><timePeriod><duration>900</duration><start>${start + k * 900}</start></timePeriod><value>${(b + k) % 900}</value></IntervalReading>\n`;
        }
        yield `${s}</IntervalBlock></content></entry>\n`;
      }
      yield '</feed>\n';
    });
    await measure('espi', parseEspi, file);
  });
});
