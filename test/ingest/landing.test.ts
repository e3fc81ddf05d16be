import { inflateRawSync } from 'node:zlib';
import { sql } from '@databases/pg';
import { receiveFile, type ReceiveMeta, type ReceiveOptions } from '../../src/ingest/landing';
import { IngestWorker } from '../../src/ingest/worker';
import { type JobQueue } from '../../src/ingest/queue';
import { filesByIds, fileRejections } from '../../src/storage/landing';
import { upsertTopology } from '../../src/storage/topology';
import { silentLogger } from '../../src/logger';
import { ErrorCode } from '../../src/errors';
import { openTestDatabase, type TestDatabase } from '../helpers/db';
import { smallTopology } from '../helpers/fixtures';
import { testQueue } from '../helpers/queue';

let db: TestDatabase;
let queue: JobQueue;

beforeAll(async () => {
  db = await openTestDatabase();
  await upsertTopology(db.pool, smallTopology());
  queue = testQueue(db.pool);
});
afterAll(async () => {
  await queue.close();
  await db.close();
});

const HEADER = 'meter_serial,channel,interval_start,interval_seconds,value,unit\n';

function csv(day: string, n: number, value: (i: number) => string, serial = 'M-2'): string {
  let s = HEADER;
  const t0 = Date.parse(`${day}T00:00:00Z`);
  for (let i = 0; i < n; i++) {
    s += `${serial},delivered,${new Date(t0 + i * 900_000).toISOString().replace('.000Z', 'Z')},900,${value(i)},kWh\n`;
  }
  return s;
}

async function* bytes(s: string | Buffer, piece = 4096): AsyncGenerator<Buffer> {
  const b = Buffer.from(s);
  for (let i = 0; i < b.length; i += piece) yield b.subarray(i, i + piece);
}

async function storedCount(meterSerial: string): Promise<number> {
  const [r] = await db.pool.query(sql`
    SELECT coalesce(sum(cardinality(array_remove(vals, NULL))), 0)::int AS n
    FROM reading_day d JOIN meter m ON m.id = d.meter_id WHERE m.serial = ${meterSerial}`);
  return r.n;
}

async function drain(workers: IngestWorker[], fileId: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  const done = async () => {
    const [f] = await filesByIds(db.pool, [fileId]);
    return f!.status === 'done' || f!.status === 'failed' || Date.now() > deadline;
  };
  await Promise.all(workers.map((w) => w.run(done)));
}

/** Lands `body` as a CSV from source "test" (1 MiB limit, the test queue) unless told otherwise. */
function land(
  body: string | AsyncIterable<Buffer>,
  meta: Partial<ReceiveMeta> = {},
  opts: Partial<ReceiveOptions> = {},
) {
  return receiveFile(
    db.pool,
    typeof body === 'string' ? bytes(body) : body,
    { source: 'test', format: 'csv', ...meta },
    { maxBytes: 1 << 20, queue, ...opts },
  );
}

const worker = (name: string) =>
  new IngestWorker(db.pool, queue, silentLogger, { name, blockMs: 100, maxDeliveries: 3 });

test('a file is landed, chunked, processed by the worker, and counted exactly', async () => {
  const body = csv('2025-06-01', 96, (i) => (i / 10).toFixed(1));
  const r = await land(body, {}, { partBytes: Math.ceil(body.length / 4) + 1 });
  // a line format: stored in line-aligned parts, each a chunk; items are counted when parsed
  expect(r).toMatchObject({ duplicate: false, status: 'received', items: null });
  expect(r.chunks).toBeGreaterThanOrEqual(4);
  expect(r.chunks).toBeLessThanOrEqual(5);
  await drain([worker('w1')], r.fileId);
  const [f] = await filesByIds(db.pool, [r.fileId]);
  expect(f).toMatchObject({
    status: 'done',
    accepted: 96,
    unchanged: 0,
    changed: 0,
    rejected: 0,
    chunksTotal: r.chunks,
    chunksDone: r.chunks,
  });
  expect(f!.sizeBytes).toBe(Buffer.byteLength(body));
  expect(await storedCount('M-2')).toBe(96);

  const again = await land(bytes(body, 100), { source: 'other' });
  expect(again).toMatchObject({ duplicate: true, fileId: r.fileId });
  expect(await storedCount('M-2')).toBe(96);
});

test('row-level errors are reported with their line numbers and the rest is kept', async () => {
  let body = csv('2025-06-02', 8, () => '1.5');
  const lines = body.trimEnd().split('\n');
  lines[3] = lines[3]!.replace(',1.5,', ',NaN,');
  lines[5] = lines[5]!.replace('M-2,', 'NOPE,');
  body = lines.join('\n') + '\n';
  const r = await land(body);
  await drain([worker('w1')], r.fileId);
  const [f] = await filesByIds(db.pool, [r.fileId]);
  expect(f).toMatchObject({ status: 'done', accepted: 6, rejected: 2 });
  const rej = await fileRejections(db.pool, r.fileId, 10);
  expect(rej.map((x) => [x.position, x.code])).toEqual([
    [4, ErrorCode.BAD_VALUE],
    [6, ErrorCode.UNKNOWN_METER],
  ]);
});

test("parts parsed apart keep the file's line numbers, behind a preamble and around quoted line ends", async () => {
  // A preamble line and a header (skipRows: 1), rows with a quoted multi-line unit (a bad row
  // whose line end must not become a part boundary), and bad values spread over many parts.
  const profile = {
    name: 'preamble',
    skipRows: 1,
    columns: {
      meter: 'meter_serial',
      channel: 'channel',
      timestamp: 'interval_start',
      intervalSeconds: 'interval_seconds',
      value: 'value',
      unit: 'unit',
    },
  };
  const rows = csv('2025-06-03', 96, (i) => (i % 7) + '.25')
    .trimEnd()
    .split('\n');
  const expected: Array<[number, string]> = [];
  const lines = ['exported by HES-9 at 2025-06-04T01:00:00Z', rows[0]!];
  for (let i = 1; i < rows.length; i++) {
    let row = rows[i]!;
    if (i % 17 === 0) {
      row = row.replace(/,kWh$/, ',"k\nWh"'); // two physical lines, one record
      expected.push([lines.length + 1, ErrorCode.BAD_UNIT]);
    } else if (i % 11 === 0) {
      row = row.replace(/,[0-9.]+,kWh$/, ',x,kWh');
      expected.push([lines.length + 1, ErrorCode.BAD_VALUE]);
    }
    lines.push(row);
  }
  const body = lines.join('\n') + '\n';
  const r = await land(body, { profile }, { partBytes: 300 });
  expect(r.chunks).toBeGreaterThan(10);
  const [cut] = await db.pool.query(sql`
    SELECT count(*)::int AS n FROM ingest_file_part WHERE file_id = ${r.fileId}`);
  expect(cut.n).toBe(r.chunks);
  await drain([worker('w1')], r.fileId);
  const [f] = await filesByIds(db.pool, [r.fileId]);
  expect(f).toMatchObject({
    status: 'done',
    itemsTotal: 96 - expected.length, // every bad row here is rejected by the parser
    accepted: 96 - expected.length,
    rejected: expected.length,
  });
  const rej = await fileRejections(db.pool, r.fileId, 100);
  // a record's line is the line it starts on; the multi-line ones shift the rest by one each
  let shift = 0;
  const want = expected.map(([line, code]) => {
    const at: [number, string] = [line + shift, code];
    if (code === ErrorCode.BAD_UNIT) shift++;
    return at;
  });
  expect(rej.map((x) => [x.position, x.code])).toEqual(want);
});

test('records longer than a part: each part ends after the record that crosses its size', async () => {
  const body = csv('2025-06-09', 12, (i) => String(i));
  const r = await land(body, {}, { partBytes: 20 });
  // every line (header included) is longer than 20 bytes: one record per part
  expect(r.chunks).toBe(13);
  await drain([worker('w1')], r.fileId);
  const [f] = await filesByIds(db.pool, [r.fileId]);
  expect(f).toMatchObject({ status: 'done', accepted: 12, rejected: 0, itemsTotal: 12 });
});

test('a CMEP file in many parts: every reading once, line numbers exact', async () => {
  const records: string[] = [];
  const stamp = (ms: number) => new Date(ms).toISOString().replace(/\D/g, '').slice(0, 12);
  for (let d = 1; d <= 20; d++) {
    const t0 = Date.UTC(2025, 7, d); // August: other tests write June
    const triplets = Array.from({ length: 96 }, (_, i) => {
      const end = stamp(t0 + (i + 1) * 900_000); // interval end, UTC
      return `${end},R0,${d === 7 && i === 5 ? 'bad' : '1.5'}`;
    });
    records.push(
      `MEPMD01,19970819,HES,S1,UTIL,R1,${stamp(t0 + 86_400_000)},M-1,OK,E,KWH,1,00000015,96,${triplets.join(',')}`,
    );
  }
  const r = await land(records.join('\n') + '\n', { format: 'cmep' }, { partBytes: 6000 });
  expect(r.chunks).toBeGreaterThan(5);
  await drain([worker('w1')], r.fileId);
  const [f] = await filesByIds(db.pool, [r.fileId]);
  const rej = await fileRejections(db.pool, r.fileId, 10);
  expect(f).toMatchObject({ status: 'done', accepted: 20 * 96 - 1, rejected: 1, changed: 0 });
  expect(rej.map((x) => x.position)).toEqual([7]);
});

/** The stored parts of a file as text, in order. */
async function partTexts(fileId: number): Promise<string[]> {
  const rows = await db.pool.query(sql`
    SELECT data, compressed FROM ingest_file_part WHERE file_id = ${fileId} ORDER BY seq`);
  return rows.map((r: { data: Buffer; compressed: boolean }) =>
    (r.compressed ? inflateRawSync(r.data) : r.data).toString('utf8'),
  );
}

/** The distinct values of field `k` of each part's lines (blank lines and `skip` left out). */
function fieldPerPart(parts: string[], k: number, skip: RegExp): string[][] {
  return parts.map((t) => [
    ...new Set(
      t
        .split('\n')
        .filter((l) => l && !skip.test(l))
        .map((l) => l.split(',')[k]!),
    ),
  ]);
}

test('line-format parts end where the meter changes, unless one meter fills the part', async () => {
  // Three meters of 50 rows (≈ 2.4 kB each) in parts of 4 kB: without the meter rule a part
  // would end inside the next meter's rows.
  // (M-3 records hourly.)
  const rows = (m: string, seconds: number) =>
    Array.from(
      { length: 50 },
      (_, i) =>
        `${m},delivered,${new Date(Date.UTC(2025, 9, 2) + i * seconds * 1000).toISOString().replace('.000Z', 'Z')},${seconds},${i}.5,kWh\n`,
    ).join('');
  const body = HEADER + rows('M-1', 900) + rows('M-2', 900) + rows('M-3', 3600);
  const r = await land(body, {}, { partBytes: 4000 });
  const parts = await partTexts(r.fileId);
  expect(parts.join('')).toBe(body);
  expect(fieldPerPart(parts, 0, /^meter_serial/)).toEqual([['M-1'], ['M-2'], ['M-3']]);
  await drain([worker('w1')], r.fileId);
  const [f] = await filesByIds(db.pool, [r.fileId]);
  expect(f).toMatchObject({ status: 'done', accepted: 150, rejected: 0, changed: 0 });

  // One meter's 200 rows (≈ 12 kB): parts still end at their size, inside its rows.
  const long = csv('2025-10-06', 200, (i) => `${i}.25`, 'M-2');
  const r2 = await land(long, {}, { partBytes: 4000 });
  const parts2 = await partTexts(r2.fileId);
  expect(parts2.join('')).toBe(long);
  expect(parts2.length).toBeGreaterThanOrEqual(3);
  expect(parts2.every((t) => Buffer.byteLength(t) <= 4000)).toBe(true);
  await drain([worker('w1')], r2.fileId);
  const [f2] = await filesByIds(db.pool, [r2.fileId]);
  expect(f2).toMatchObject({ status: 'done', accepted: 200, rejected: 0, changed: 0 });

  // CMEP: two day records per meter (≈ 1.9 kB each, M-3's hourly ones less) in parts of 5 kB.
  const stamp = (ms: number) => new Date(ms).toISOString().replace(/\D/g, '').slice(0, 12);
  const records: string[] = [];
  for (const m of ['M-1', 'M-2', 'M-3']) {
    for (let d = 20; d <= 21; d++) {
      const t0 = Date.UTC(2025, 9, d);
      const n = m === 'M-3' ? 24 : 96;
      const triplets = Array.from(
        { length: n },
        (_, i) => `${stamp(t0 + ((i + 1) * 86_400_000) / n)},R0,1.25`,
      );
      records.push(
        `MEPMD01,19970819,HES,S1,UTIL,R1,${stamp(t0 + 86_400_000)},${m},OK,E,KWH,1,${m === 'M-3' ? '00000100' : '00000015'},${n},${triplets.join(',')}`,
      );
    }
  }
  const cmep = records.join('\n') + '\n';
  const r3 = await land(cmep, { format: 'cmep' }, { partBytes: 5000 });
  const parts3 = await partTexts(r3.fileId);
  expect(parts3.join('')).toBe(cmep);
  expect(fieldPerPart(parts3, 7, /^$/)).toEqual([['M-1'], ['M-2'], ['M-3']]);
  await drain([worker('w1')], r3.fileId);
  const [f3] = await filesByIds(db.pool, [r3.fileId]);
  expect(f3).toMatchObject({ status: 'done', accepted: 4 * 96 + 2 * 24, rejected: 0, changed: 0 });
});

function espiFeed(days: number, bad?: { day: number; at: number }): string {
  const up = '/espi/1_1/resource/RetailCustomer/1/UsagePoint/9';
  let xml = `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>f</id>
<entry><link rel="self" href="${up}"/><title>M-1</title><content><UsagePoint xmlns="http://naesb.org/espi"/></content></entry>
<entry><link rel="self" href="${up}/MeterReading/1"/><link rel="related" href="/espi/1_1/resource/ReadingType/7"/><content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>
<entry><link rel="self" href="/espi/1_1/resource/ReadingType/7"/><content><ReadingType xmlns="http://naesb.org/espi"><accumulationBehaviour>4</accumulationBehaviour><flowDirection>1</flowDirection><intervalLength>900</intervalLength><powerOfTenMultiplier>0</powerOfTenMultiplier><uom>72</uom></ReadingType></content></entry>
`;
  for (let d = 1; d <= days; d++) {
    const t0 = Date.UTC(2025, 8, d) / 1000; // September: other tests write June and August
    const readings = Array.from(
      { length: 96 },
      (_, i) =>
        `<IntervalReading><timePeriod><duration>900</duration><start>${t0 + i * 900}</start></timePeriod><value>${bad?.day === d && bad.at === i ? '1.2.3' : 250 + i}</value></IntervalReading>`,
    );
    xml += `<entry><link rel="self" href="${up}/MeterReading/1/IntervalBlock/${d}"/><content><IntervalBlock xmlns="http://naesb.org/espi"><interval><duration>86400</duration><start>${t0}</start></interval>
${readings.join('\n')}
</IntervalBlock></content></entry>
`;
  }
  return `${xml}</feed>\n`;
}

test('an ESPI feed lands as segments of its stored parts: every reading once, ordinals exact, two workers', async () => {
  const body = espiFeed(20, { day: 7, at: 5 });
  const r = await land(body, { format: 'espi' }, { partBytes: 5000, chunkSize: 300 });
  // Every chunk a list of segments, none parsed there: the workers count the readings.
  expect(r).toMatchObject({ status: 'received', items: null, parseRejected: 0 });
  const chunks = await db.pool.query(sql`
    SELECT items, segments IS NOT NULL AS seg, payload IS NULL AS nopayload
    FROM ingest_chunk WHERE file_id = ${r.fileId} ORDER BY seq`);
  expect(chunks.length).toBe(r.chunks);
  expect(chunks.length).toBeGreaterThan(2);
  expect(chunks.every((c) => c.seg && c.nopayload)).toBe(true);
  const [{ parts }] = await db.pool.query(
    sql`SELECT count(*)::int AS parts FROM ingest_file_part WHERE file_id = ${r.fileId}`,
  );
  expect(parts).toBe(Math.ceil(Buffer.byteLength(body) / 5000));
  await drain([worker('w1'), worker('w2')], r.fileId);
  const [f] = await filesByIds(db.pool, [r.fileId]);
  // As for CSV: the readings parsed, the one with a bad value rejected apart.
  expect(f).toMatchObject({
    status: 'done',
    itemsTotal: 20 * 96 - 1,
    accepted: 20 * 96 - 1,
    rejected: 1,
    changed: 0,
  });
  const rej = await fileRejections(db.pool, r.fileId, 10);
  expect(rej.map((x) => [x.position, x.code])).toEqual([[6 * 96 + 6, ErrorCode.BAD_VALUE]]);
  const [{ n, total }] = await db.pool.query(sql`
    SELECT count(*)::int AS n, sum(round((v * 1000)::numeric))::float8 AS total
    FROM reading_day d JOIN meter m ON m.id = d.meter_id, unnest(d.vals) AS v
    WHERE m.serial = 'M-1' AND d.day >= '2025-09-01' AND d.day < '2025-10-01' AND v IS NOT NULL`);
  expect(n).toBe(20 * 96 - 1);
  // 250 + i Wh for every reading but the bad one (day 7, i = 5); stored in kWh.
  expect(total).toBe(20 * 96 * 250 + 20 * ((95 * 96) / 2) - 255);
});

test('a structurally bad ESPI feed is failed with nothing staged', async () => {
  const body = espiFeed(3).replace('</IntervalBlock></content></entry>\n</feed>', '</content>');
  const r = await land(body, { format: 'espi' }, { partBytes: 5000, chunkSize: 100 });
  expect(r).toMatchObject({ status: 'failed', errorCode: ErrorCode.MALFORMED_FILE });
  const [{ n }] = await db.pool.query(
    sql`SELECT count(*)::int AS n FROM ingest_chunk WHERE file_id = ${r.fileId}`,
  );
  expect(n).toBe(0);
});

test('a structurally bad file is recorded as failed with nothing staged or stored', async () => {
  const before = await storedCount('M-2');
  const body =
    'meter_serial,channel,interval_start,value,unit\nM-2,delivered,2025-06-03T00:00:00Z,1,kWh\n';
  const r = await land(body);
  expect(r.status).toBe('failed');
  expect(r.errorCode).toBe(ErrorCode.MISSING_COLUMN);
  const [{ n }] = await db.pool.query(
    sql`SELECT count(*)::int AS n FROM ingest_chunk WHERE file_id = ${r.fileId}`,
  );
  expect(n).toBe(0);
  expect(await storedCount('M-2')).toBe(before);
  const [f] = await filesByIds(db.pool, [r.fileId]);
  expect(f).toMatchObject({ status: 'failed', errorCode: ErrorCode.MISSING_COLUMN, accepted: 0 });
});

test('a failed file is not a duplicate: the same content may be sent again', async () => {
  const body = 'meter_serial,channel,value\nM-2,delivered,1\n';
  const a = await land(body);
  const b = await land(body);
  expect(a).toMatchObject({ status: 'failed', duplicate: false });
  expect(b).toMatchObject({ status: 'failed', duplicate: false });
  expect(b.fileId).not.toBe(a.fileId);
});

test('a file over the size limit is refused and nothing is registered', async () => {
  const [{ n: before }] = await db.pool.query(sql`SELECT count(*)::int AS n FROM ingest_file`);
  await expect(
    land(
      csv('2025-06-04', 96, () => '1'),
      {},
      { maxBytes: 1000 },
    ),
  ).rejects.toMatchObject({ code: ErrorCode.FILE_TOO_LARGE });
  const [{ n: after }] = await db.pool.query(sql`SELECT count(*)::int AS n FROM ingest_file`);
  expect(after).toBe(before);
});

test('two workers on one file: exact counts, no reading written twice', async () => {
  const body =
    csv('2025-06-05', 96, (i) => String(i)) +
    csv('2025-06-05', 96, (i) => String(i), 'M-1').slice(HEADER.length);
  const r = await land(body, {}, { partBytes: 500 });
  expect(r.chunks).toBeGreaterThanOrEqual(20);
  await drain([worker('a'), worker('b')], r.fileId);
  const [f] = await filesByIds(db.pool, [r.fileId]);
  expect(f).toMatchObject({ status: 'done', accepted: 192, unchanged: 0, changed: 0, rejected: 0 });
  const [{ workers }] = await db.pool.query(
    sql`SELECT count(DISTINCT worker)::int AS workers FROM ingest_chunk WHERE file_id = ${r.fileId}`,
  );
  expect(workers).toBeGreaterThanOrEqual(1);
  const [{ h }] = await db.pool.query(sql`SELECT count(*)::int AS h FROM reading_history`);
  expect(h).toBe(0);
});

test('a redelivered chunk that is already done writes and counts nothing', async () => {
  const body = csv('2025-06-06', 4, () => '2');
  const r = await land(body);
  const w = worker('w1');
  await drain([w], r.fileId);
  expect(await w.handle({ id: '', fileId: r.fileId, seq: 0 })).toBe('skipped');
  const [f] = await filesByIds(db.pool, [r.fileId]);
  expect(f).toMatchObject({ accepted: 4, unchanged: 0 });
});

test('a poison chunk is dead-lettered after the maximum deliveries and its file fails', async () => {
  const body = csv('2025-06-07', 4, () => '3');
  const r = await land(body);
  // the stored part no longer inflates: every delivery fails
  await db.pool.query(
    sql`UPDATE ingest_file_part SET data = ${Buffer.from('not deflate')}, compressed = true WHERE file_id = ${r.fileId}`,
  );
  await drain([worker('w1')], r.fileId);
  const [f] = await filesByIds(db.pool, [r.fileId]);
  expect(f).toMatchObject({ status: 'failed', errorCode: 'DEAD_LETTER' });
  const [c] = await db.pool.query(
    sql`SELECT status, deliveries FROM ingest_chunk WHERE file_id = ${r.fileId}`,
  );
  expect(c).toMatchObject({ status: 'dead', deliveries: 4 });
}, 60_000);
