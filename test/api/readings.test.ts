import { ingestItems } from '../../src/ingest/readings';
import { openApi, readings, type Api } from './harness';

let api: Api;

const DAY = '2025-03-01T00:00:00Z';
// Exactly representable in float4, so stored values compare equal.
const m1Value = (i: number) => 0.5 + (i % 4) * 0.25;

beforeAll(async () => {
  api = await openApi();
  const m1 = readings('M-1', DAY, 96, m1Value, { quality: (i) => (i === 10 ? 9 : null) }).filter(
    (_, i) => i !== 5,
  );
  const m2 = readings('M-2', DAY, 4, () => 1);
  const received = readings('M-1', DAY, 4, () => 0.125, { channel: 'received' });
  // A spring-forward weekend in New York (M-1's time zone): local days of 96, 92, 96 intervals.
  const dst = readings('M-1', '2025-03-08T05:00:00Z', 96 + 92 + 96, () => 0.25);
  const r = await ingestItems(api.db.pool, [...m1, ...m2, ...received, ...dst], {
    source: 'test',
    format: 'items',
  });
  expect(r.rejected).toBe(0);
});
afterAll(() => api.close());

const SERIES = `query($serial: String!, $from: DateTime!, $to: DateTime!, $channel: Channel) {
  meter(serial: $serial) {
    series(from: $from, to: $to, channel: $channel) {
      meterId channel start end intervalSeconds count missing total values quality
    }
  }
}`;

describe('Meter.series', () => {
  test('a day as columns: missing intervals are null, quality codes kept, counts and total', async () => {
    const r = await api.gql(SERIES, { serial: 'M-1', from: DAY, to: '2025-03-02T00:00:00Z' });
    expect(r.errors).toBeUndefined();
    const s = r.data.meter.series;
    expect(s).toMatchObject({
      channel: 'DELIVERED',
      start: '2025-03-01T00:00:00.000Z',
      end: '2025-03-02T00:00:00.000Z',
      intervalSeconds: 900,
      count: 95,
      missing: 1,
    });
    expect(s.values).toHaveLength(96);
    expect(s.values[5]).toBeNull();
    expect(s.quality[5]).toBeNull();
    expect(s.values[6]).toBe(m1Value(6));
    expect(s.quality[10]).toBe(9);
    expect(s.quality[11]).toBe(0);
    let total = 0;
    for (let i = 0; i < 96; i++) if (i !== 5) total += m1Value(i);
    expect(s.total).toBeCloseTo(total, 9);
  });

  test('from and to off the grid are snapped outward; offsets are honoured', async () => {
    const r = await api.gql(SERIES, {
      serial: 'M-1',
      from: '2025-02-28T21:07:00-03:00',
      to: '2025-03-01T01:01:00Z',
    });
    const s = r.data.meter.series;
    expect(s.start).toBe('2025-03-01T00:00:00.000Z');
    expect(s.end).toBe('2025-03-01T01:15:00.000Z');
    expect(s.values).toEqual([0.5, 0.75, 1, 1.25, 0.5]);
  });

  test('the RECEIVED channel is its own series', async () => {
    const r = await api.gql(SERIES, {
      serial: 'M-1',
      from: DAY,
      to: '2025-03-01T01:00:00Z',
      channel: 'RECEIVED',
    });
    expect(r.data.meter.series).toMatchObject({ channel: 'RECEIVED', total: 0.5, count: 4 });
  });

  test('an unknown serial is null, not an error', async () => {
    const r = await api.gql(SERIES, { serial: 'NOPE', from: DAY, to: '2025-03-02T00:00:00Z' });
    expect(r.errors).toBeUndefined();
    expect(r.data.meter).toBeNull();
  });

  test('from >= to is INVALID_RANGE; too long a range is RANGE_TOO_LARGE with the maximum', async () => {
    const same = await api.gql(SERIES, { serial: 'M-1', from: DAY, to: DAY });
    expect(same.errors?.[0]?.extensions?.code).toBe('INVALID_RANGE');
    const long = await api.gql(SERIES, {
      serial: 'M-1',
      from: '2024-01-01T00:00:00Z',
      to: '2025-03-01T00:00:00Z',
    });
    expect(long.errors?.[0]?.extensions?.code).toBe('RANGE_TOO_LARGE');
    expect(long.errors?.[0]?.message).toMatch(/maximum of 400 days/);
  });

  test('a channel the meter does not have is UNKNOWN_CHANNEL', async () => {
    const r = await api.gql(SERIES, {
      serial: 'M-2',
      from: DAY,
      to: '2025-03-02T00:00:00Z',
      channel: 'RECEIVED',
    });
    expect(r.errors?.[0]?.extensions?.code).toBe('UNKNOWN_CHANNEL');
  });

  test('the benchmark query costs two database queries (meter, day rows)', async () => {
    const { ctx, count } = api.countingContext();
    const r = await api.gql(SERIES, { serial: 'M-1', from: DAY, to: '2025-04-01T00:00:00Z' }, ctx);
    expect(r.data.meter.series.values).toHaveLength(31 * 96);
    expect(count()).toBe(2);
  });
});

describe('Meter.intervals', () => {
  const Q = `query($from: DateTime!, $to: DateTime!) {
    meter(serial: "M-1") { intervals(from: $from, to: $to) { start end value quality missing } }
  }`;

  test('one item per interval, missing ones flagged', async () => {
    const r = await api.gql(Q, { from: '2025-03-01T01:00:00Z', to: '2025-03-01T01:30:00Z' });
    expect(r.data.meter.intervals).toEqual([
      {
        start: '2025-03-01T01:00:00.000Z',
        end: '2025-03-01T01:15:00.000Z',
        value: 0.5,
        quality: 0,
        missing: false,
      },
      {
        start: '2025-03-01T01:15:00.000Z',
        end: '2025-03-01T01:30:00.000Z',
        value: null,
        quality: null,
        missing: true,
      },
    ]);
  });

  test('more than maxIntervalItemsDays is RANGE_TOO_LARGE', async () => {
    const r = await api.gql(Q, { from: '2025-03-01T00:00:00Z', to: '2025-03-09T00:00:00Z' });
    expect(r.errors?.[0]?.extensions?.code).toBe('RANGE_TOO_LARGE');
    expect(r.errors?.[0]?.message).toMatch(/maximum of 7 days/);
  });
});

describe('Meter.usage', () => {
  const Q = `query($from: DateTime!, $to: DateTime!, $res: Resolution!) {
    meter(serial: "M-1") {
      usage(from: $from, to: $to, resolution: $res) {
        resolution timeZone total
        buckets { start end localStart value intervals expected missing estimated }
      }
    }
  }`;

  test('local days across spring-forward hold 96, 92 and 96 intervals', async () => {
    const r = await api.gql(Q, {
      from: '2025-03-08T00:00:00-05:00',
      to: '2025-03-11T00:00:00-04:00',
      res: 'DAY',
    });
    expect(r.errors).toBeUndefined();
    const u = r.data.meter.usage;
    expect(u.timeZone).toBe('America/New_York');
    expect(u.buckets.map((b: { localStart: string }) => b.localStart)).toEqual([
      '2025-03-08T00:00:00-05:00',
      '2025-03-09T00:00:00-05:00',
      '2025-03-10T00:00:00-04:00',
    ]);
    expect(u.buckets.map((b: { expected: number }) => b.expected)).toEqual([96, 92, 96]);
    expect(u.buckets.map((b: { value: number }) => b.value)).toEqual([24, 23, 24]);
    expect(u.buckets[1]).toMatchObject({
      start: '2025-03-09T05:00:00.000Z',
      end: '2025-03-10T04:00:00.000Z',
      intervals: 92,
      missing: 0,
    });
    expect(u.total).toBe(71);
  });

  test('hourly buckets count estimated intervals', async () => {
    const r = await api.gql(Q, { from: DAY, to: '2025-03-01T04:00:00Z', res: 'HOUR' });
    const b = r.data.meter.usage.buckets;
    expect(b).toHaveLength(4);
    expect(b[1]).toMatchObject({ intervals: 3, expected: 4, missing: 1 });
    expect(b[2]).toMatchObject({ estimated: 1 });
  });
});

describe('Meter.history', () => {
  test('a corrected value leaves the replaced version', async () => {
    const fix = readings('M-1', '2025-03-01T02:00:00Z', 1, () => 9);
    await ingestItems(api.db.pool, fix, { source: 'test', format: 'items' });
    const r = await api.gql(`{
      meter(serial: "M-1") {
        history(from: "2025-03-01T00:00:00Z", to: "2025-03-02T00:00:00Z") {
          start end version value quality newValue newQuality reason batchId changedByBatch
        }
      }
    }`);
    expect(r.errors).toBeUndefined();
    expect(r.data.meter.history).toHaveLength(1);
    expect(r.data.meter.history[0]).toMatchObject({
      start: '2025-03-01T02:00:00.000Z',
      end: '2025-03-01T02:15:00.000Z',
      version: 1,
      value: m1Value(8),
      quality: 0,
      newValue: 9,
      reason: 'CORRECTED_RESEND',
    });
    await ingestItems(
      api.db.pool,
      readings('M-1', '2025-03-01T02:00:00Z', 1, () => m1Value(8)),
      {
        source: 'test',
        format: 'items',
      },
    );
  });
});

describe('Transformer.series', () => {
  test("sums the transformer's meters per interval, with one readings query", async () => {
    const { ctx, count } = api.countingContext();
    const r = await api.gql(
      `{
        transformer(code: "TX-1") {
          series(from: "2025-03-01T00:00:00Z", to: "2025-03-01T02:00:00Z") {
            start end intervalSeconds total meters { meterId count values }
          }
        }
      }`,
      undefined,
      ctx,
    );
    expect(r.errors).toBeUndefined();
    const s = r.data.transformer.series;
    expect(s.intervalSeconds).toBe(900);
    expect(s.meters).toHaveLength(2);
    expect(s.total.slice(0, 6)).toEqual([1.5, 1.75, 2, 2.25, 0.5, null]);
    expect(s.total).toHaveLength(8);
    // code → id, transformer, its meters, the day rows
    expect(count()).toBe(4);
  });

  test('only meters with the channel take part', async () => {
    const r = await api.gql(`{
      transformer(code: "TX-1") {
        series(from: "2025-03-01T00:00:00Z", to: "2025-03-01T01:00:00Z", channel: RECEIVED) {
          meters { meterId } total
        }
      }
    }`);
    expect(r.data.transformer.series.meters).toHaveLength(1);
    expect(r.data.transformer.series.total).toEqual([0.125, 0.125, 0.125, 0.125]);
  });
});

describe('Query.instant', () => {
  const Q = `query($at: DateTime!, $tx: String, $fd: String, $sec: Int) {
    instant(at: $at, transformerCode: $tx, feederCode: $fd, intervalSeconds: $sec) {
      at intervalSeconds channel meterIds serials values quality total reporting
    }
  }`;

  test('all 15-minute meters at the interval containing `at`', async () => {
    const r = await api.gql(Q, { at: '2025-03-01T00:20:00Z' });
    expect(r.errors).toBeUndefined();
    expect(r.data.instant).toMatchObject({
      at: '2025-03-01T00:15:00.000Z',
      intervalSeconds: 900,
      channel: 'DELIVERED',
      serials: ['M-1', 'M-2'],
      values: [0.75, 1],
      quality: [0, 0],
      total: 1.75,
      reporting: 2,
    });
    expect(r.data.instant.meterIds).toHaveLength(2);
  });

  test('meters that did not report are listed with null', async () => {
    const r = await api.gql(Q, { at: '2025-03-01T05:00:00Z', fd: 'FDR-1' });
    expect(r.data.instant).toMatchObject({
      serials: ['M-1', 'M-2'],
      values: [0.5, null],
      quality: [0, null],
      total: 0.5,
      reporting: 1,
    });
  });

  test('scoped to a transformer and an interval length', async () => {
    const r = await api.gql(Q, { at: '2025-03-01T05:00:00Z', tx: 'TX-2', sec: 3600 });
    expect(r.data.instant).toMatchObject({
      serials: ['M-3'],
      values: [null],
      total: null,
      reporting: 0,
    });
    // M-3 was installed in 2024-06: not part of an earlier instant.
    const before = await api.gql(Q, { at: '2024-01-01T00:00:00Z', tx: 'TX-2', sec: 3600 });
    expect(before.data.instant.serials).toEqual([]);
  });

  test('bad arguments', async () => {
    const unknown = await api.gql(Q, { at: DAY, tx: 'TX-404' });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const both = await api.gql(Q, { at: DAY, tx: 'TX-1', fd: 'FDR-1' });
    expect(both.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const odd = await api.gql(Q, { at: DAY, sec: 7 });
    expect(odd.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
