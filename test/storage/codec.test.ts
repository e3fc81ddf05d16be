import { sql } from '@databases/pg';
import { realArraysLiteral, textArrayLiteral } from '../../src/storage/codec';
import { openTestDatabase, type TestDatabase } from '../helpers/db';

// A deterministic spread of values: meter-like decimals of 0–4 places, negatives, integers,
// and doubles that have no short decimal at all.
function values(): number[] {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const out = [
    0,
    -0,
    1,
    -1,
    0.5,
    0.0001,
    -0.0001,
    214748.3647,
    -214748.3647,
    1e12,
    1 / 3,
    0.1 + 0.2,
  ];
  for (let i = 0; i < 20_000; i++) {
    const places = i % 5;
    const scale = 10 ** places;
    const v = Math.round((rnd() - 0.2) * 50_000 * scale) / scale;
    out.push(v, v / 1000, rnd() * 1e6, -rnd());
  }
  return out;
}

/** One real[] literal as the concatenating reference writes it: String() of each value. */
const realLiteral = (vals: Array<number | null>) =>
  `{${vals.map((v) => (v === null ? 'NULL' : String(v))).join(',')}}`;

test('realArraysLiteral writes every double exactly as String() does', () => {
  const all = values();
  const written = realArraysLiteral([all]).slice(3, -3).split(',');
  const mismatches = all.filter((v, i) => written[i] !== String(v));
  expect(written).toHaveLength(all.length);
  expect(mismatches).toEqual([]);
});

test('realArraysLiteral writes nulls and NaN as NULL and values as their decimal text', () => {
  expect(realArraysLiteral([[1.5, null, -0.0625, 3], []])).toBe('{"{1.5,NULL,-0.0625,3}","{}"}');
  expect(realArraysLiteral([Float64Array.from([NaN, 2])])).toBe('{"{NULL,2}"}');
});

test("realArraysLiteral writes the text[] of the rows' real[] literals, long rows included", () => {
  const all = values();
  // Rows of 0 to 300 elements with nulls among them; together past the writer's first buffer.
  const rows: Array<Array<number | null>> = [];
  for (let at = 0, k = 0; at < all.length; k++) {
    const n = k % 301;
    rows.push(all.slice(at, at + n).map((v, i) => ((i + k) % 11 === 0 ? null : v)));
    at += n;
  }
  const literal = realArraysLiteral(rows);
  expect(literal.length).toBeGreaterThan(1 << 16);
  expect(literal).toBe(textArrayLiteral(rows.map(realLiteral)));
  expect(realArraysLiteral([])).toBe('{}');
  expect(realArraysLiteral([[], [null], [-0, 1e21]])).toBe('{"{}","{NULL}","{0,1e+21}"}');
});

test('realArraysLiteral keeps every byte of rows of the longest values, wherever its buffer fills', () => {
  // 12 characters and a comma per value, the most the integer way writes; a first row of
  // varying length (60 bytes more each time, over more than a row's 1,253) moves where the
  // writer's buffer (a fresh module's: 64 KiB) fills up among the rows that follow.
  const longest = Array.from({ length: 96 }, () => -214748.3647);
  const rest = textArrayLiteral(Array.from({ length: 60 }, () => realLiteral(longest))).slice(1);
  for (let k = 0; k < 700; k += 30) {
    let fresh!: typeof realArraysLiteral;
    jest.isolateModules(() => {
      ({ realArraysLiteral: fresh } = require('../../src/storage/codec'));
    });
    const first = Array.from({ length: k }, () => 1);
    const literal = fresh([first, ...Array.from({ length: 60 }, () => longest)]);
    expect(literal.length).toBeGreaterThan(1 << 16);
    expect(literal).toBe(`{"${realLiteral(first)}",${rest}`);
  }
});

test('textArrayLiteral quotes every element and escapes quotes and backslashes', () => {
  expect(textArrayLiteral(['{1,2}', null, 'a"b', 'c\\d', ''])).toBe(
    '{"{1,2}",NULL,"a\\"b","c\\\\d",""}',
  );
  expect(textArrayLiteral([])).toBe('{}');
});

describe('against PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(async () => db.close());

  test('a text[] of real[] literals reads back as the same elements and float4 values', async () => {
    const rows = [
      [0.7054, null, 12.5],
      [-1, 0.0001],
      [1 / 3, 214748.3647],
    ];
    const elems = [...rows.map(realLiteral), null, 'q"uo\\te'];
    const [r] = await db.pool.query(sql`
      SELECT (SELECT array_agg(x ORDER BY i) FROM unnest(${textArrayLiteral(elems)}::text[]) WITH ORDINALITY AS t(x, i)) AS texts,
             (${textArrayLiteral(elems.slice(0, 3))}::text[])[1]::real[] AS first,
             (${textArrayLiteral(elems.slice(0, 3))}::text[])[3]::real[] AS third`);
    expect(r.texts).toEqual(elems);
    // The driver reads real as its shortest float4 text: compare as float4.
    const f4 = (xs: Array<number | null>) => xs.map((v) => (v === null ? null : Math.fround(v)));
    expect(f4(r.first)).toEqual(f4(rows[0]!));
    expect(f4(r.third)).toEqual(f4(rows[2]!));
  });
});
