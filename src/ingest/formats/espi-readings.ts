/**
 * IntervalReadings read straight from the text. A Green Button feed is almost all
 * IntervalReadings, each a handful of small elements holding numbers; an XML tokenizer spends
 * nearly all of a feed's parse time on them. Here one is matched against the shape ESPI gives
 * it — timePeriod (duration, start), value, ReadingQuality (quality), cost; comments between
 * them; no attributes, entities or other children; numbers as text — which is well-formed XML
 * by construction. Anything else is left to the XML parser, which then reads that element the
 * usual way, so this changes the cost of a reading, never what is read (espi.ts decides where
 * it may be used).
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

const LT = 60;
const GT = 62;
const SLASH = 47;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

/** Characters of a number's text: digits, sign, point, exponent. */
function isNumberChar(c: number): boolean {
  return (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46 || c === 101 || c === 69;
}

/** XML name characters allowed here (ASCII letters, digits, '_', '-', '.'); ':' separately. */
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

/** Where the children of each element may be, by local name; leaves hold a number. */
const CHILDREN: Record<string, readonly string[] | 'leaf'> = {
  IntervalReading: ['timePeriod', 'value', 'ReadingQuality', 'cost'],
  timePeriod: ['duration', 'start'],
  ReadingQuality: ['quality'],
  duration: 'leaf',
  start: 'leaf',
  value: 'leaf',
  quality: 'leaf',
  cost: 'leaf',
};

class NoMatch {}
const NO_MATCH = new NoMatch();
class NeedMore {}
const NEED_MORE = new NeedMore();

/**
 * Matches an IntervalReading element starting at `at` (a '<'). Returns the reading and where
 * the element ends, null when it is not in the shape above, or MORE when `text` ends first.
 */
export function matchIntervalReading(
  text: string,
  at: number,
): { reading: RawReading; end: number } | null | typeof MORE {
  const limit = Math.min(text.length, at + MAX_READING_CHARS);
  const reading: RawReading = { qualities: [] };
  let pos = at;

  /** Reads `<qname>` at pos; returns the local name and advances, or throws. */
  const openTag = (): { qname: string; local: string } => {
    if (pos >= limit) throw pos >= text.length ? NEED_MORE : NO_MATCH;
    if (text.charCodeAt(pos) !== LT) throw NO_MATCH;
    let k = pos + 1;
    let colon = -1;
    if (k >= limit) throw k >= text.length ? NEED_MORE : NO_MATCH;
    if (!isNameStart(text.charCodeAt(k))) throw NO_MATCH;
    for (; k < limit; k++) {
      const c = text.charCodeAt(k);
      if (c === GT) break;
      if (c === 58 && colon < 0 && k > pos + 1) {
        colon = k;
        if (k + 1 >= limit || !isNameStart(text.charCodeAt(k + 1))) {
          throw k + 1 >= text.length ? NEED_MORE : NO_MATCH;
        }
      } else if (!isNameChar(c)) throw NO_MATCH;
    }
    if (k >= limit) throw k >= text.length ? NEED_MORE : NO_MATCH;
    const qname = text.slice(pos + 1, k);
    pos = k + 1;
    return { qname, local: colon < 0 ? qname : text.slice(colon + 1, k) };
  };

  /** Skips white space and comments (`<!-- … -->`, as exporters annotate readings). */
  const skipSpace = () => {
    for (;;) {
      while (pos < limit && isSpace(text.charCodeAt(pos))) pos++;
      if (pos + 4 > limit) break;
      if (!text.startsWith('<!--', pos)) break;
      const close = text.indexOf('-->', pos + 4);
      if (close < 0 || close + 3 > limit) throw limit >= text.length ? NEED_MORE : NO_MATCH;
      // "--" inside a comment, or "--->", is not well-formed: the XML parser says so.
      const inner = text.indexOf('--', pos + 4);
      if (inner < close || text.charCodeAt(close - 1) === 45) throw NO_MATCH;
      pos = close + 3;
    }
    if (pos >= limit) throw pos >= text.length ? NEED_MORE : NO_MATCH;
  };

  /** Reads `</qname>` at pos. */
  const closeTag = (qname: string) => {
    const end = pos + 3 + qname.length;
    if (end > limit) throw end > text.length ? NEED_MORE : NO_MATCH;
    if (
      text.charCodeAt(pos) !== LT ||
      text.charCodeAt(pos + 1) !== SLASH ||
      !text.startsWith(qname, pos + 2) ||
      text.charCodeAt(end - 1) !== GT
    ) {
      throw NO_MATCH;
    }
    pos = end;
  };

  /** An element whose local name is allowed under `parent`; fills the reading. */
  const element = (parent: string): void => {
    const { qname, local } = openTag();
    const allowed = CHILDREN[parent];
    if (allowed === 'leaf' || allowed === undefined || !allowed.includes(local)) throw NO_MATCH;
    const kind = CHILDREN[local]!;
    if (kind === 'leaf') {
      const from = pos;
      while (pos < limit && text.charCodeAt(pos) !== LT) {
        const c = text.charCodeAt(pos);
        if (!isNumberChar(c) && !isSpace(c)) throw NO_MATCH;
        pos++;
      }
      if (pos >= limit) throw pos >= text.length ? NEED_MORE : NO_MATCH;
      const raw = text.slice(from, pos);
      // Inner whitespace or a carriage return would read differently once the XML parser
      // normalises line ends: leave those to it.
      const s = raw.trim();
      for (let i = 0; i < s.length; i++) if (!isNumberChar(s.charCodeAt(i))) throw NO_MATCH;
      if (raw.includes('\r')) throw NO_MATCH;
      closeTag(qname);
      if (parent === 'timePeriod') {
        if (local === 'start') reading.start = raw;
        else reading.duration = raw;
      } else if (parent === 'IntervalReading' && local === 'value') reading.value = raw;
      else if (parent === 'ReadingQuality') reading.qualities.push(raw);
      return;
    }
    for (;;) {
      skipSpace();
      if (text.charCodeAt(pos + 1) === SLASH) break;
      element(local);
    }
    closeTag(qname);
  };

  try {
    const { qname, local } = openTag();
    if (local !== 'IntervalReading') return null;
    for (;;) {
      skipSpace();
      if (pos + 1 >= limit) throw pos + 1 >= text.length ? NEED_MORE : NO_MATCH;
      if (text.charCodeAt(pos + 1) === SLASH) break;
      element('IntervalReading');
    }
    closeTag(qname);
    return { reading, end: pos };
  } catch (e) {
    if (e === NO_MATCH) return null;
    if (e === NEED_MORE) return MORE;
    throw e;
  }
}
