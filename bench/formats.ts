/**
 * Head-end file writers for the benchmark: the simulated fleet as CMEP (MEPMD01) and as a Green
 * Button (ESPI) Atom feed, one meter at a time (memory bounded by one meter's rows). They write
 * exactly what the parsers in src/ingest/formats read with their defaults (no options can be
 * passed through the landing):
 *
 * - CMEP: one record per meter-channel-UTC-day, 96 triplets with an explicit date-time each,
 *   UTC, the triplet time is the interval END (the parser's default `interval_end`), units KWH,
 *   protocol code R0, the value as in the CSV. The parser gives every unit code the channel
 *   `delivered` unless a `unitsMap` option says otherwise, and the landing passes no CMEP
 *   options, so only the delivered channel is written (PV meters' `received` readings are not
 *   in the CMEP file).
 * - ESPI: one UsagePoint entry per meter whose <title> is the meter serial (the parser's meter
 *   identity without --meter), a MeterReading per channel linked (rel="related") to its own
 *   ReadingType (uom 72 Wh, powerOfTenMultiplier 0, flowDirection 1 delivered / 19 received,
 *   accumulationBehaviour 4 deltaData, intervalLength 900), then one IntervalBlock per UTC day
 *   with 96 IntervalReadings (timePeriod start in Unix seconds, duration 900, value in Wh: the
 *   CSV's kWh decimal shifted by three places, so no rounding).
 */
import { type ReadingRow } from '../src/domain/simulate';

/** Readings of one meter grouped by channel and UTC day, in time order. */
interface ChannelDays {
  channel: 'delivered' | 'received';
  unit: string;
  /** day index (from the grid start) → rows of that day */
  days: Map<number, ReadingRow[]>;
}

function groupByChannelDay(rows: readonly ReadingRow[], startMs: number): ChannelDays[] {
  const out = new Map<string, ChannelDays>();
  for (const r of rows) {
    let c = out.get(r.channel);
    if (!c) {
      c = { channel: r.channel, unit: r.unit, days: new Map() };
      out.set(r.channel, c);
    }
    if (r.unit !== c.unit) {
      throw new Error(`${r.meterSerial} ${r.channel}: mixed units ${c.unit} and ${r.unit}`);
    }
    const day = Math.floor((r.intervalStart - startMs) / 86_400_000);
    let d = c.days.get(day);
    if (!d) {
      d = [];
      c.days.set(day, d);
    }
    d.push(r);
  }
  // delivered first, as the CSV has them
  return [...out.values()].sort((a, b) =>
    a.channel === b.channel ? 0 : a.channel < b.channel ? -1 : 1,
  );
}

const pad2 = (n: number) => (n < 10 ? '0' + n : String(n));

/** CCYYMMDDHHMM in UTC, cached per distinct instant (all meters share the grid). */
function compactUtcFormatter(): (ms: number) => string {
  const cache = new Map<number, string>();
  return (ms) => {
    let s = cache.get(ms);
    if (s === undefined) {
      const d = new Date(ms);
      s =
        `${d.getUTCFullYear()}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}` +
        `${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}`;
      if (cache.size > 200_000) cache.clear();
      cache.set(ms, s);
    }
    return s;
  };
}

/** A decimal string times 1000, exactly (kWh → Wh), without floating-point rounding. */
export function kwhToWh(value: number): string {
  const s = String(value);
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) return String(value * 1000); // exponent notation: far outside the simulator's range
  const [, sign, int, frac = ''] = m;
  const f = frac.padEnd(3, '0');
  const whole = (int + f.slice(0, 3)).replace(/^0+(?=\d)/, '');
  const rest = f.slice(3).replace(/0+$/, '');
  const out = rest ? `${whole}.${rest}` : whole;
  return out === '0' ? '0' : sign + out;
}

const CMEP_UNITS: Record<string, string> = { kWh: 'KWH', Wh: 'WH', MWh: 'MWH' };

/** MEPMD01 records, one per meter-channel-day (delivered channel only; see above). */
export class CmepWriter {
  private readonly stamp: string;
  private readonly fmt = compactUtcFormatter();
  readings = 0;

  constructor(
    private readonly startMs: number,
    private readonly intervalSeconds: number,
    createdMs: number,
  ) {
    this.stamp = compactUtcFormatter()(createdMs);
  }

  header(): string {
    return '';
  }

  footer(): string {
    return '';
  }

  meter(rows: readonly ReadingRow[]): string {
    const interval = `0000${pad2(Math.floor(this.intervalSeconds / 3600))}${pad2(Math.floor((this.intervalSeconds % 3600) / 60))}`;
    const stepMs = this.intervalSeconds * 1000;
    let text = '';
    for (const c of groupByChannelDay(rows, this.startMs)) {
      if (c.channel !== 'delivered') continue;
      const units = CMEP_UNITS[c.unit];
      if (!units) throw new Error(`no CMEP units code for ${c.unit}`);
      for (const day of c.days.values()) {
        const serial = day[0]!.meterSerial;
        let line =
          `MEPMD01,19970819,BENCH,,METERDATA,,${this.stamp},${serial},OK,E,${units},1,` +
          `${interval},${day.length}`;
        for (const r of day) {
          if (r.intervalSeconds !== this.intervalSeconds) {
            throw new Error(
              `${serial}: interval ${r.intervalSeconds} s, expected ${this.intervalSeconds}`,
            );
          }
          line += `,${this.fmt(r.intervalStart + stepMs)},R0,${r.value}`;
        }
        text += line + '\n';
        this.readings += day.length;
      }
    }
    return text;
  }
}

const ESPI_BASE = '/espi/1_1/resource';
const FLOW: Record<string, number> = { delivered: 1, received: 19 };

/** One Atom feed: per meter a UsagePoint, per channel a MeterReading + ReadingType + day blocks. */
export class EspiWriter {
  readings = 0;
  private meterIndex = 0;

  constructor(
    private readonly startMs: number,
    private readonly intervalSeconds: number,
  ) {}

  header(): string {
    return (
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<feed xmlns="http://www.w3.org/2005/Atom">\n' +
      '<id>urn:uuid:meterdata-bench</id>\n<title>meterdata benchmark fleet</title>\n' +
      `<link rel="self" href="${ESPI_BASE}/Subscription/1"/>\n`
    );
  }

  footer(): string {
    return '</feed>\n';
  }

  meter(rows: readonly ReadingRow[]): string {
    if (!rows.length) return '';
    const serial = rows[0]!.meterSerial;
    const u = ++this.meterIndex;
    const up = `${ESPI_BASE}/RetailCustomer/1/UsagePoint/${u}`;
    let text =
      `<entry><id>urn:uuid:up-${u}</id><link rel="self" href="${up}"/>` +
      `<link rel="related" href="${up}/MeterReading"/><title>${escapeXml(serial)}</title>` +
      `<content><UsagePoint xmlns="http://naesb.org/espi"><ServiceCategory><kind>0</kind></ServiceCategory></UsagePoint></content></entry>\n`;
    for (const c of groupByChannelDay(rows, this.startMs)) {
      const flow = FLOW[c.channel];
      if (flow === undefined) throw new Error(`no ESPI flowDirection for channel ${c.channel}`);
      const pow = c.unit === 'kWh' ? 3 : c.unit === 'Wh' ? 0 : undefined;
      if (pow === undefined) throw new Error(`unit ${c.unit} not written to ESPI`);
      const mr = `${up}/MeterReading/${flow}`;
      const rt = `${ESPI_BASE}/ReadingType/${u}-${flow}`;
      text +=
        `<entry><link rel="self" href="${mr}"/><link rel="related" href="${mr}/IntervalBlock"/>` +
        `<link rel="related" href="${rt}"/><title>${c.channel}</title>` +
        `<content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>\n` +
        `<entry><link rel="self" href="${rt}"/><title>${c.channel} energy</title><content>` +
        `<ReadingType xmlns="http://naesb.org/espi"><accumulationBehaviour>4</accumulationBehaviour>` +
        `<commodity>1</commodity><flowDirection>${flow}</flowDirection>` +
        `<intervalLength>${this.intervalSeconds}</intervalLength><kind>12</kind>` +
        `<powerOfTenMultiplier>0</powerOfTenMultiplier><uom>72</uom></ReadingType></content></entry>\n`;
      for (const [day, list] of c.days) {
        const dayStart = (this.startMs + day * 86_400_000) / 1000;
        let block =
          `<entry><link rel="self" href="${mr}/IntervalBlock/${day + 1}"/><content>` +
          `<IntervalBlock xmlns="http://naesb.org/espi"><interval><duration>86400</duration>` +
          `<start>${dayStart}</start></interval>\n`;
        for (const r of list) {
          const v = pow === 3 ? kwhToWh(r.value) : String(r.value);
          block +=
            `<IntervalReading><timePeriod><duration>${r.intervalSeconds}</duration>` +
            `<start>${r.intervalStart / 1000}</start></timePeriod><value>${v}</value></IntervalReading>\n`;
        }
        text += block + '</IntervalBlock></content></entry>\n';
        this.readings += list.length;
      }
    }
    return text;
  }
}

const XML_ESCAPES: Record<string, string> = {
  '<': '&lt;',
  '>': '&gt;',
  '&': '&amp;',
  '"': '&quot;',
  "'": '&apos;',
};

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => XML_ESCAPES[c]!);
}
