import { parseReadingValue, plainDecimal } from '../../src/domain/readings';

describe('reading values', () => {
  test.each([
    ['0.4785', 0.4785],
    ['-12.345', -12.345],
    ['+1.5', 1.5],
    ['.5', 0.5],
    ['7.', 7],
    ['42', 42],
    ['-0', -0],
    ['123456789012.345', 123456789012.345],
  ])('%j reads from character codes as %d', (raw, want) => {
    expect(plainDecimal(raw)).toBe(want);
    expect(parseReadingValue(raw)).toBe(want);
  });

  test.each(['1e3', ' 1.5', '1.5 ', '1234567890.1234567', '0.1234567890123456'])(
    '%j is not a plain decimal of 15 digits but still reads the general way',
    (raw) => {
      expect(plainDecimal(raw)).toBeUndefined();
      expect(parseReadingValue(raw)).toBe(Number(raw.trim()));
    },
  );

  test.each(['', '-', '.', '+.', '1.2.3', '1,5', 'NaN', 'Infinity', '0x10', '1_000', '--1'])(
    '%j is refused',
    (raw) => {
      expect(plainDecimal(raw)).toBeUndefined();
      expect(parseReadingValue(raw)).toBeUndefined();
    },
  );

  test('a value beyond 1e12 kWh is refused however it is written', () => {
    expect(parseReadingValue('1000000000001')).toBeUndefined();
    expect(parseReadingValue('1.000000000001e12')).toBeUndefined();
  });

  test('plain decimals give the same double as Number()', () => {
    for (let k = 0; k < 20_000; k++) {
      const digits = 1 + (k % 15);
      let text = '';
      for (let d = 0; d < digits; d++) text += String(Math.floor(Math.random() * 10));
      const point = Math.floor(Math.random() * (digits + 1));
      const raw = `${k % 3 === 0 ? '-' : ''}${text.slice(0, point)}.${text.slice(point)}`;
      expect(plainDecimal(raw)).toBe(Number(raw));
    }
  });
});
