import { ReadingColumns } from '../../src/domain/reading-columns';
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
  expect(cols.position).toEqual([10, 11, 12]);
  expect(cols.items()).toEqual(items);
  expect(cols.item(0)).not.toHaveProperty('quality');
});

test('fill writes reading k into a reused object, with null for a missing quality', () => {
  const cols = ReadingColumns.from(items);
  const into = { ...items[2]! };
  expect(cols.fill(0, into)).toEqual({ ...items[0], quality: null });
  expect(cols.fill(1, into)).toEqual(items[1]);
  expect(cols.position).toEqual([0, 1, 2]);
});

test('takeFirst moves the first n readings out, every column alike, and keeps the rest', () => {
  const cols = ReadingColumns.from(items, [5, 6, 7]);
  const head = cols.takeFirst(2);
  expect(head.items()).toEqual(items.slice(0, 2));
  expect(head.position).toEqual([5, 6]);
  expect(cols.items()).toEqual(items.slice(2));
  expect(cols.position).toEqual([7]);
  expect(cols.takeFirst(5).length).toBe(1);
  expect(cols.length).toBe(0);
});

test('copyFrom appends one reading at a new position', () => {
  const from = ReadingColumns.from(items);
  const to = new ReadingColumns();
  to.copyFrom(from, 1, 99);
  expect(to.items()).toEqual([items[1]]);
  expect(to.position).toEqual([99]);
});
