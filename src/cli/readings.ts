/**
 * `meterdata readings <serial>`: the stored intervals of one meter and channel over a range,
 * as CSV or JSON, every expected interval listed (a missing one has no value).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { type Channel, MISSING_QUALITY, parseChannel, Quality } from '../domain/channel';
import { DAY_MS, isMissing, parseInstant } from '../domain/readings';
import { ErrorCode, MeterdataError } from '../errors';
import { rulesOfFlags } from '../domain/vee';
import { readDays } from '../storage/readings';
import { readMethods } from '../storage/vee-edit';
import { metersBySerials } from '../storage/topology';
import { type CliIo, withRuntime, writeLine } from './io';

export interface IntervalOut {
  start: string;
  end: string;
  valueKwh: number | null;
  quality: string;
  /** with --vee: the ESPI code (null when missing) */
  qualityCode?: number | null;
  /** with --vee: how an estimate was made (linear, flat, like_day, proration, outage_zero) */
  estimationMethod?: string | null;
  /** with --vee: the VEE rules that failed on the interval */
  veeFlags?: string[];
}

export interface ReadingsOut {
  meter: string;
  channel: Channel;
  intervalSeconds: number;
  from: string;
  to: string;
  intervals: IntervalOut[];
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** An ISO 8601 instant with an offset, or a date meaning midnight UTC. */
export function parseRangeBound(raw: string, name: string): number {
  const s = raw.trim();
  const ms = DATE_RE.test(s) ? Date.parse(`${s}T00:00:00Z`) : parseInstant(s);
  if (ms === undefined || Number.isNaN(ms)) {
    throw new MeterdataError(
      ErrorCode.BAD_TIMESTAMP,
      `--${name} ${JSON.stringify(raw)} is not an ISO 8601 instant with an offset (2025-03-01T00:00:00Z) or a date (2025-03-01, midnight UTC)`,
    );
  }
  return ms;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Lowercase ESPI quality names; `missing` for an interval with no reading. */
export function qualityName(q: number): string {
  if (q === MISSING_QUALITY) return 'missing';
  const name = Quality[q] as string | undefined;
  return name ? name.toLowerCase() : String(q);
}

export async function fetchReadings(
  io: CliIo,
  serial: string,
  o: { from: string; to: string; channel?: string; vee?: boolean },
): Promise<ReadingsOut> {
  const from = parseRangeBound(o.from, 'from');
  const to = parseRangeBound(o.to, 'to');
  if (from >= to) {
    throw new MeterdataError(
      ErrorCode.INVALID_RANGE,
      `--from (${iso(from)}) must be before --to (${iso(to)})`,
    );
  }
  const channel = parseChannel(o.channel ?? 'delivered');
  if (!channel) {
    throw new MeterdataError(
      ErrorCode.UNKNOWN_CHANNEL,
      `channel ${JSON.stringify(o.channel)} is not one of delivered, received`,
    );
  }
  return withRuntime(io, async (rt) => {
    const maxDays = rt.config.maxRangeDays;
    if (to - from > maxDays * DAY_MS) {
      throw new MeterdataError(
        ErrorCode.RANGE_TOO_LARGE,
        `the range spans more than ${maxDays} days (MD_MAX_RANGE_DAYS); ask for a shorter one`,
      );
    }
    const [meter] = await metersBySerials(rt.db.pool, [serial]);
    if (!meter) {
      throw new MeterdataError(ErrorCode.UNKNOWN_METER, `no meter with serial ${serial}`);
    }
    if (!meter.channels.includes(channel)) {
      throw new MeterdataError(
        ErrorCode.UNKNOWN_CHANNEL,
        `meter ${serial} has no ${channel} channel (it has ${meter.channels.join(', ')})`,
      );
    }
    const step = meter.intervalSeconds * 1000;
    // Every interval overlapping [from, to).
    const first = Math.floor(from / step) * step;
    const rows = await readDays(
      rt.db.pool,
      meter.id,
      channel === 'delivered' ? 1 : 2,
      Math.floor(first / DAY_MS),
      Math.floor((to - 1) / DAY_MS),
    );
    const byDay = new Map(rows.map((r) => [r.day, r]));
    const end = Math.ceil(to / step) * step;
    const methods = !o.vee
      ? []
      : await readMethods(
          rt.db.pool,
          meter.id,
          channel === 'delivered' ? 1 : 2,
          first,
          end,
          meter.intervalSeconds,
        );
    const intervals: IntervalOut[] = [];
    for (let ts = first; ts < to; ts += step) {
      const day = Math.floor(ts / DAY_MS);
      const row = byDay.get(day);
      const i = (ts - day * DAY_MS) / step;
      const v = row ? row.vals[i]! : NaN;
      const has = !isMissing(v);
      intervals.push({
        start: iso(ts),
        end: iso(ts + step),
        valueKwh: has ? v : null,
        quality: has ? qualityName(row!.quality[i]!) : 'missing',
        ...(o.vee
          ? {
              qualityCode: has ? row!.quality[i]! : null,
              estimationMethod: methods[(ts - first) / step] ?? null,
              veeFlags: row?.veeFlags ? rulesOfFlags(row.veeFlags[i] ?? 0) : [],
            }
          : {}),
      });
    }
    return {
      meter: meter.serial,
      channel,
      intervalSeconds: meter.intervalSeconds,
      from: iso(from),
      to: iso(to),
      intervals,
    };
  });
}

export function formatReadingsCsv(r: ReadingsOut, vee = false): string {
  let out = 'interval_start,interval_end,value_kwh,quality';
  out += vee ? ',quality_code,estimation_method,vee_flags\n' : '\n';
  for (const i of r.intervals) {
    out += `${i.start},${i.end},${i.valueKwh === null ? '' : String(i.valueKwh)},${i.quality}`;
    out += vee
      ? `,${i.qualityCode ?? ''},${i.estimationMethod ?? ''},${(i.veeFlags ?? []).join(' ')}\n`
      : '\n';
  }
  return out;
}

function formatOption(v: string): 'csv' | 'json' {
  if (v === 'csv' || v === 'json') return v;
  throw new InvalidArgumentError('expected csv or json');
}

export function registerReadings(program: Command, io: CliIo): void {
  program
    .command('readings')
    .description('print the stored intervals of one meter over a range (missing ones included)')
    .argument('<serial>', 'meter serial number')
    .requiredOption('--from <instant>', 'range start: ISO 8601 instant with offset, or a UTC date')
    .requiredOption('--to <instant>', 'range end (exclusive)')
    .option('--channel <channel>', 'delivered or received', 'delivered')
    .option('--format <format>', 'csv or json', formatOption, 'csv')
    .option(
      '--vee',
      'add the quality code, the estimation method and the failed VEE rules of each interval',
    )
    .action(
      async (
        serial: string,
        o: { from: string; to: string; channel: string; format: 'csv' | 'json'; vee?: boolean },
      ) => {
        const r = await fetchReadings(io, serial, o);
        if (o.format === 'json') writeLine(io.stdout, JSON.stringify(r, null, 2));
        else io.stdout.write(formatReadingsCsv(r, o.vee));
      },
    );
}
