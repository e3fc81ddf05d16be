/**
 * IntervalReadings read straight from the text. A Green Button feed is almost all
 * IntervalReadings, each a handful of small elements holding numbers; an XML tokenizer spends
 * nearly all of a feed's parse time on them. Here one is matched against the shape ESPI gives
 * it — timePeriod (duration, start), value, ReadingQuality (quality), cost; comments between
 * them; no attributes, entities or other children; numbers as text — which is well-formed XML
 * by construction. Anything else is left to the XML parser, which then reads that element the
 * usual way, so this changes the cost of a reading, never what is read (espi.ts decides where
 * it may be used).
 *
 * Written as flat functions over character codes that return the next position (or NO / MORE),
 * with no closures or strings made except the numbers' text: it runs once per reading.
 */

/** What the general reader collects for a reading (see EspiFeed). */
export interface RawReading {
  start?: string;
  duration?: string;
  value?: string;
  qualities: string[];
}

/** The text needs more input to decide (the element runs past its end). */
export const MORE = 'more';

/** Longest IntervalReading matched here; a longer one goes to the XML parser. */
const MAX_READING_CHARS = 4096;

/** Results of the steps below, besides a position. */
const NO = -1;
const NEED = -2;

const LT = 60;
const GT = 62;
const SLASH = 47;
const COLON = 58;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

/** Characters of a number's text: digits, sign, point, exponent. */
function isNumberChar(c: number): boolean {
  return (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46 || c === 101 || c === 69;
}

/** XML name characters allowed here (ASCII letters, digits, '_', '-', '.'). */
function isNameChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) ||
    (c >= 65 && c <= 90) ||
    (c >= 48 && c <= 57) ||
    c === 95 ||
    c === 45 ||
    c === 46
  );
}

function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}

/** Where the last open tag's name and local name start, and where its name ends. */
let nameFrom = 0;
let localFrom = 0;
let nameTo = 0;

/** NO, or NEED when the text ended before `limit` was reached (more input may decide). */
function short(text: string, limit: number): number {
  return limit >= text.length ? NEED : NO;
}

/** `<name>` or `<prefix:name>` at p, no attributes; returns the position after '>'. */
function openTag(text: string, p: number, limit: number): number {
  if (p + 1 >= limit) return short(text, limit);
  if (text.charCodeAt(p) !== LT || !isNameStart(text.charCodeAt(p + 1))) return NO;
  nameFrom = localFrom = p + 1;
  for (let k = p + 2; k < limit; k++) {
    const c = text.charCodeAt(k);
    if (c === GT) {
      nameTo = k;
      return k + 1;
    }
    if (c === COLON && localFrom === nameFrom) {
      if (k + 1 >= limit) return short(text, limit);
      if (!isNameStart(text.charCodeAt(k + 1))) return NO;
      localFrom = k + 1;
    } else if (!isNameChar(c)) return NO;
  }
  return short(text, limit);
}

/** `</name>` at p for the name at text[from, to); returns the position after '>'. */
function closeTag(text: string, p: number, limit: number, from: number, to: number): number {
  const end = p + 3 + (to - from);
  if (end > limit) return short(text, limit);
  if (text.charCodeAt(p) !== LT || text.charCodeAt(p + 1) !== SLASH) return NO;
  for (let i = from, k = p + 2; i < to; i++, k++) {
    if (text.charCodeAt(i) !== text.charCodeAt(k)) return NO;
  }
  return text.charCodeAt(end - 1) === GT ? end : NO;
}

/** Skips white space and comments; returns the next position (which is inside the text). */
function skipSpace(text: string, p: number, limit: number): number {
  for (;;) {
    while (p < limit && isSpace(text.charCodeAt(p))) p++;
    // A comment's start cut off by the end of the text: more input decides.
    if (p + 4 > limit && p < limit && '<!--'.startsWith(text.slice(p, limit))) {
      return short(text, limit);
    }
    if (p + 4 > limit || !text.startsWith('<!--', p)) break;
    const close = text.indexOf('-->', p + 4);
    if (close < 0 || close + 3 > limit) return short(text, limit);
    // "--" inside a comment, or "--->", is not well-formed: the XML parser says so.
    if (text.indexOf('--', p + 4) < close || text.charCodeAt(close - 1) === 45) return NO;
    p = close + 3;
  }
  return p >= limit ? short(text, limit) : p;
}

/** A leaf's text from p: number characters with white space around; returns the '<' after. */
function leafText(text: string, p: number, limit: number): number {
  let k = p;
  while (k < limit && isSpace(text.charCodeAt(k))) k++;
  while (k < limit && isNumberChar(text.charCodeAt(k))) k++;
  // Trailing white space without a carriage return: inner white space, or a line end the XML
  // parser would normalise, is left to it.
  while (k < limit) {
    const c = text.charCodeAt(k);
    if (c === LT) break;
    if (c !== 32 && c !== 10 && c !== 9) return NO;
    k++;
  }
  if (k >= limit) return short(text, limit);
  for (let i = p; i < k; i++) if (text.charCodeAt(i) === 13) return NO;
  return k;
}

function localIs(text: string, word: string): boolean {
  return nameTo - localFrom === word.length && text.startsWith(word, localFrom);
}

/** Which element an open tag is, by local name. */
const OTHER = 0;
const TIME_PERIOD = 1;
const VALUE = 2;
const READING_QUALITY = 3;
const COST = 4;
const DURATION = 5;
const START = 6;
const QUALITY = 7;

function kindOf(text: string): number {
  switch (nameTo - localFrom) {
    case 10:
      return localIs(text, 'timePeriod') ? TIME_PERIOD : OTHER;
    case 5:
      return localIs(text, 'value') ? VALUE : localIs(text, 'start') ? START : OTHER;
    case 14:
      return localIs(text, 'ReadingQuality') ? READING_QUALITY : OTHER;
    case 4:
      return localIs(text, 'cost') ? COST : OTHER;
    case 8:
      return localIs(text, 'duration') ? DURATION : OTHER;
    case 7:
      return localIs(text, 'quality') ? QUALITY : OTHER;
    default:
      return OTHER;
  }
}

/**
 * A leaf element (its open tag just read, name at text[from, to)) from p: returns the position
 * after its close tag; its text is text[p, leafEnd).
 */
let leafEnd = 0;
function leaf(text: string, p: number, limit: number, from: number, to: number): number {
  const k = leafText(text, p, limit);
  if (k < 0) return k;
  leafEnd = k;
  return closeTag(text, k, limit, from, to);
}

/**
 * A container (timePeriod or ReadingQuality; its open tag just read) from p, filling `r`:
 * returns the position after its close tag.
 */
function container(
  text: string,
  p: number,
  limit: number,
  kind: number,
  from: number,
  to: number,
  r: RawReading,
): number {
  for (;;) {
    p = skipSpace(text, p, limit);
    if (p < 0) return p;
    if (p + 1 >= limit) return short(text, limit);
    if (text.charCodeAt(p + 1) === SLASH) return closeTag(text, p, limit, from, to);
    const q = openTag(text, p, limit);
    if (q < 0) return q;
    const child = kindOf(text);
    const cFrom = nameFrom;
    const cTo = nameTo;
    if (kind === TIME_PERIOD ? child !== DURATION && child !== START : child !== QUALITY) {
      return NO;
    }
    const end = leaf(text, q, limit, cFrom, cTo);
    if (end < 0) return end;
    const raw = text.slice(q, leafEnd);
    if (child === START) r.start = raw;
    else if (child === DURATION) r.duration = raw;
    else r.qualities.push(raw);
    p = end;
  }
}

/**
 * Matches an IntervalReading element starting at `at` (a '<'). Returns the reading and where
 * the element ends, null when it is not in the shape above, or MORE when `text` ends first.
 */
export function matchIntervalReading(
  text: string,
  at: number,
): { reading: RawReading; end: number } | null | typeof MORE {
  const compact = compactReading(text, at);
  if (compact) return compact;
  const limit = Math.min(text.length, at + MAX_READING_CHARS);
  let p = openTag(text, at, limit);
  if (p < 0) return p === NEED ? MORE : null;
  if (!localIs(text, 'IntervalReading')) return null;
  const from = nameFrom;
  const to = nameTo;
  const r: RawReading = { qualities: [] };
  for (;;) {
    p = skipSpace(text, p, limit);
    if (p >= 0 && p + 1 >= limit) p = short(text, limit);
    if (p < 0) break;
    if (text.charCodeAt(p + 1) === SLASH) {
      p = closeTag(text, p, limit, from, to);
      break;
    }
    const q = openTag(text, p, limit);
    if (q < 0) {
      p = q;
      break;
    }
    const kind = kindOf(text);
    const cFrom = nameFrom;
    const cTo = nameTo;
    if (kind === TIME_PERIOD || kind === READING_QUALITY) {
      p = container(text, q, limit, kind, cFrom, cTo, r);
    } else if (kind === VALUE || kind === COST) {
      p = leaf(text, q, limit, cFrom, cTo);
      if (p >= 0 && kind === VALUE) r.value = text.slice(q, leafEnd);
    } else p = NO;
    if (p < 0) break;
  }
  if (p < 0) return p === NEED ? MORE : null;
  return { reading: r, end: p };
}

/**
 * The compact shape most exporters write — an IntervalReading with no white space inside, no
 * prefixes and digits only — and the white space after it:
 * <IntervalReading><timePeriod><duration>D</duration><start>S</start></timePeriod>
 * <value>V</value></IntervalReading>, D and S digits, V digits with a sign and points. A special
 * case of the grammar above, matched natively at a few tens of nanoseconds a reading.
 */
const COMPACT_READING =
  /<IntervalReading><timePeriod><duration>\d*<\/duration><start>\d*<\/start><\/timePeriod><value>-?[\d.]*<\/value><\/IntervalReading>[ \t\r\n]*/y;
const DURATION_AT = '<IntervalReading><timePeriod><duration>'.length;
const START_AFTER_DURATION = '</duration><start>'.length;
const VALUE_AFTER_START = '</start></timePeriod><value>'.length;
const CLOSE_AFTER_VALUE = '</value></IntervalReading>'.length;

/** Where the numbers of the last compact reading compactAt matched lie: [d0, d1) and so on. */
export const compact = { d0: 0, d1: 0, s0: 0, s1: 0, v0: 0, v1: 0 };

function digitsEnd(text: string, p: number): number {
  for (;;) {
    const c = text.charCodeAt(p);
    if (c >= 48 && c <= 57) p++;
    else return p;
  }
}

/**
 * A compact reading at `at`: returns where it ends (after the white space that follows it),
 * or -1; the places of its duration, start and value are left in `compact`.
 */
export function compactAt(text: string, at: number): number {
  COMPACT_READING.lastIndex = at;
  if (!COMPACT_READING.test(text)) return -1;
  const c = compact;
  c.d0 = at + DURATION_AT;
  c.d1 = digitsEnd(text, c.d0);
  c.s0 = c.d1 + START_AFTER_DURATION;
  c.s1 = digitsEnd(text, c.s0);
  c.v0 = c.s1 + VALUE_AFTER_START;
  c.v1 = text.indexOf('<', c.v0);
  return COMPACT_READING.lastIndex;
}

function compactReading(text: string, at: number): { reading: RawReading; end: number } | null {
  if (compactAt(text, at) < 0) return null;
  const c = compact;
  return {
    reading: {
      duration: text.slice(c.d0, c.d1),
      start: text.slice(c.s0, c.s1),
      value: text.slice(c.v0, c.v1),
      qualities: [],
    },
    end: c.v1 + CLOSE_AFTER_VALUE,
  };
}

/**
 * Where a run of compact readings starting at `at` ends (after the white space that follows
 * it), and how many readings it holds; null when the text at `at` is not one. A run that
 * reaches the end of the text stops before any reading the text cuts off.
 */
export function compactRun(text: string, at: number): { end: number; count: number } | null {
  let end = at;
  let count = 0;
  COMPACT_READING.lastIndex = at;
  while (COMPACT_READING.test(text)) {
    end = COMPACT_READING.lastIndex;
    count++;
  }
  return count ? { end, count } : null;
}
