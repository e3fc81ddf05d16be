import { PackedSource, ReadingColumns } from '../../src/domain/reading-columns';
import type { ReadingInput } from '../../src/domain/readings';

const items: ReadingInput[] = [
  {
    meterSerial: 'M-1',
    channel: 'delivered',
    intervalStart: 1_700_000_000_000,
    intervalSeconds: 900,
    value: 0.25,
    unit: 'kWh',
  },
  {
    meterSerial: 'M-1',
    channel: 'received',
    intervalStart: '2026-01-01T00:00:00+01:00',
    intervalSeconds: 900,
    value: '1,5',
    unit: 'Wh',
    quality: 7,
  },
  {
    meterSerial: 'M-2',
    channel: 'delivered',
    intervalStart: 1_700_000_900_000,
    intervalSeconds: 3600,
    value: -3,
    unit: 'MWh',
    quality: 0,
  },
];

test('items go into columns and come back as the same objects, quality only where given', () => {
  const cols = ReadingColumns.from(items, [10, 11, 12]);
  expect(cols.length).toBe(3);
  expect(cols.positions()).toEqual([10, 11, 12]);
  expect(cols.items()).toEqual(items);
  expect(cols.item(0)).not.toHaveProperty('quality');
});

test('fill writes reading k into a reused object, with null for a missing quality', () => {
  const cols = ReadingColumns.from(items);
  const into = { ...items[2]! };
  expect(cols.fill(0, into)).toEqual({ ...items[0], quality: null });
  expect(cols.fill(1, into)).toEqual(items[1]);
  expect(cols.positions()).toEqual([0, 1, 2]);
});

test('takeFirst moves the first n readings out, every column alike, and keeps the rest', () => {
  const cols = ReadingColumns.from(items, [5, 6, 7]);
  const head = cols.takeFirst(2);
  expect(head.items()).toEqual(items.slice(0, 2));
  expect(head.positions()).toEqual([5, 6]);
  expect(cols.items()).toEqual(items.slice(2));
  expect(cols.positions()).toEqual([7]);
  expect(cols.takeFirst(5).length).toBe(1);
  expect(cols.length).toBe(0);
});

test('copyFrom appends one reading at a new position', () => {
  const from = ReadingColumns.from(items);
  const to = new ReadingColumns();
  to.copyFrom(from, 1, 99);
  expect(to.items()).toEqual([items[1]]);
  expect(to.positions()).toEqual([99]);
});

test('columns grown far past their first capacity keep every field, text included', () => {
  // Every 7th reading carries its start or value as text, every 5th a quality code.
  const many: ReadingInput[] = Array.from({ length: 5000 }, (_, k) => ({
    meterSerial: `M-${k % 13}`,
    channel: k % 2 ? 'received' : 'delivered',
    intervalStart:
      k % 7 === 3 ? `2026-01-01T00:${String(k % 60).padStart(2, '0')}:00Z` : k * 900_000,
    intervalSeconds: 900,
    value: k % 7 === 5 ? `${k},5` : k / 8,
    unit: k % 3 ? 'kWh' : 'Wh',
    ...(k % 5 === 0 ? { quality: k % 3 } : {}),
  }));
  const cols = new ReadingColumns(16);
  many.forEach((item, k) => cols.pushItem(item, k + 2));
  expect(cols.length).toBe(5000);
  expect(cols.items()).toEqual(many);
  expect(cols.positions()).toEqual(many.map((_, k) => k + 2));
  const head = cols.takeFirst(4096);
  expect(head.items()).toEqual(many.slice(0, 4096));
  expect(cols.items()).toEqual(many.slice(4096));
  expect(cols.positionAt(0)).toBe(4098);
});

test('packed columns read back through PackedSource as the same readings', () => {
  const cols = ReadingColumns.from(items, [3, 4, 5]);
  const source = new PackedSource(cols.pack());
  expect(source.length).toBe(3);
  const into = {} as ReadingInput;
  items.forEach((item, k) => {
    expect(source.fill(k, into)).toEqual({ quality: null, ...item });
    expect(source.positionAt(k)).toBe(k + 3);
    expect(source.serialAt(k)).toBe(item.meterSerial);
  });
});
