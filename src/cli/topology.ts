/**
 * `meterdata topology import <file>`: a topology export as JSON (the TopologyDoc shape) or as a
 * flat CSV with one row per meter (parents repeated on every row, deduplicated here). Invalid
 * files are reported problem by problem, with CSV line numbers, and nothing is written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { type Command } from 'commander';
import { parse } from 'csv-parse';
import {
  type AccountDoc,
  type FeederDoc,
  type MeterDoc,
  type ServicePointDoc,
  type SubstationDoc,
  type TopologyDoc,
  type TransformerDoc,
} from '../domain/topology';
import { ErrorCode, isMeterdataError, MeterdataError } from '../errors';
import { assertUtf8 } from '../ingest/formats/utf8';

/** Longest topology CSV record accepted. */
const MAX_RECORD_BYTES = 64 * 1024;
import { importTopology } from '../ingest/topology';
import { type CliIo, fmtInt, requireFile, withRuntime, writeLine } from './io';

export const TOPOLOGY_CSV_COLUMNS = [
  'substation',
  'feeder',
  'transformer',
  'transformer_kva',
  'transformer_phase',
  'service_point',
  'premise',
  'account',
  'customer_class',
  'time_zone',
  'meter_serial',
  'meter_mrid',
  'multiplier',
  'interval_seconds',
  'channels',
  'installed_at',
  'removed_at',
  'status',
  'comm_path',
] as const;
type TopologyColumn = (typeof TOPOLOGY_CSV_COLUMNS)[number];

/** Columns that may be left out of the header entirely (their defaults apply). */
const OPTIONAL_COLUMNS: ReadonlySet<TopologyColumn> = new Set([
  'account',
  'customer_class',
  'meter_mrid',
  'multiplier',
  'interval_seconds',
  'channels',
  'removed_at',
  'status',
]);

export interface TopologyProblem {
  /** where: `line 7, column transformer_kva` or a JSON path such as `meters[3].servicePoint` */
  path: string;
  message: string;
}

export interface LoadedTopology {
  doc: TopologyDoc;
  /** for CSV input: `meters[3]` → the line that defined it */
  origin: Map<string, number>;
  format: 'json' | 'csv';
}

function problemsError(file: string, problems: TopologyProblem[]): MeterdataError {
  return new MeterdataError(
    ErrorCode.BAD_USER_INPUT,
    `${path.basename(file)} has ${problems.length} problem${problems.length === 1 ? '' : 's'}; nothing was imported`,
    { details: { problems } },
  );
}

// ---------------------------------------------------------------------------------------------
// JSON

const COLLECTIONS = [
  'substations',
  'feeders',
  'transformers',
  'accounts',
  'servicePoints',
  'meters',
] as const;

/**
 * Where JSON.parse gave up (its messages carry no position on every Node version): a small
 * syntax-only scan, run only after a failure.
 */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail();
      const c = text[i]!;
      if (c === '"') return void i++;
      if (c < ' ') fail();
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail();
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail();
      } else i++;
    }
  };
  const value = (depth: number): void => {
    if (depth > 512) fail();
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) return void i++;
      for (;;) {
        if (c === '{') {
          ws();
          if (text[i] !== '"') fail();
          string();
          ws();
          if (text[i] !== ':') fail();
          i++;
        }
        value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === close) return void i++;
        else fail();
      }
    }
    if (c === '"') return string();
    const m = /^(-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(
      text.slice(i, i + 400),
    );
    if (!m) fail();
    i += m![0].length;
  };
  try {
    value(0);
    ws();
    return i < text.length ? i : undefined;
  } catch (at) {
    return typeof at === 'number' ? at : undefined;
  }
}

export function parseTopologyJson(text: string, file: string): TopologyDoc {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const pos = jsonErrorOffset(text);
    const where =
      pos === undefined
        ? ''
        : ` at line ${text.slice(0, pos).split('\n').length}, column ${pos - text.lastIndexOf('\n', pos - 1)}`;
    throw new MeterdataError(
      ErrorCode.MALFORMED_FILE,
      `${path.basename(file)} is not valid JSON${where}: ${(err as Error).message.replace(/\s+/g, ' ')}`,
      { cause: err, details: pos === undefined ? {} : { byteOffset: pos } },
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw problemsError(file, [
      { path: '$', message: 'expected an object with substations, feeders, transformers, …' },
    ]);
  }
  const obj = value as Record<string, unknown>;
  const problems: TopologyProblem[] = [];
  const doc = {} as Record<(typeof COLLECTIONS)[number], unknown[]>;
  for (const key of COLLECTIONS) {
    const v = obj[key];
    if (v === undefined || v === null) doc[key] = [];
    else if (Array.isArray(v)) doc[key] = v;
    else problems.push({ path: key, message: 'must be an array' });
  }
  for (const key of Object.keys(obj)) {
    // `$schema`, `$comment` and the like are annotations; anything else is probably a typo.
    if (!(COLLECTIONS as readonly string[]).includes(key) && !key.startsWith('$')) {
      problems.push({
        path: key,
        message: `unknown key (expected ${COLLECTIONS.join(', ')})`,
      });
    }
  }
  if (problems.length) throw problemsError(file, problems);
  return doc as unknown as TopologyDoc;
}

// ---------------------------------------------------------------------------------------------
// CSV

const COLLECTION_OF: Record<string, (typeof COLLECTIONS)[number]> = {
  substation: 'substations',
  feeder: 'feeders',
  transformer: 'transformers',
  account: 'accounts',
  'service point': 'servicePoints',
};

/** Builds a TopologyDoc from the flat CSV, deduplicating parents and checking they agree. */
export class TopologyCsvBuilder {
  readonly problems: TopologyProblem[] = [];
  readonly origin = new Map<string, number>();
  private readonly substations = new Map<string, SubstationDoc>();
  private readonly feeders = new Map<string, FeederDoc>();
  private readonly transformers = new Map<string, TransformerDoc>();
  private readonly accounts = new Map<string, AccountDoc>();
  private readonly servicePoints = new Map<string, ServicePointDoc>();
  private readonly meters = new Map<string, MeterDoc>();
  private readonly firstLine = new Map<string, number>();
  private col!: Partial<Record<TopologyColumn, number>>;
  private width = 0;

  header(names: string[]): void {
    const index = new Map<string, number>();
    names.forEach((n, i) => {
      const key = n.trim().toLowerCase();
      if (!index.has(key)) index.set(key, i);
    });
    const missing = TOPOLOGY_CSV_COLUMNS.filter((c) => !index.has(c) && !OPTIONAL_COLUMNS.has(c));
    if (missing.length) {
      throw new MeterdataError(
        ErrorCode.MISSING_COLUMN,
        `the header lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; expected ${TOPOLOGY_CSV_COLUMNS.join(',')}`,
        { details: { line: 1, missing } },
      );
    }
    this.col = Object.fromEntries(
      TOPOLOGY_CSV_COLUMNS.filter((c) => index.has(c)).map((c) => [c, index.get(c)!]),
    );
    this.width = names.length;
  }

  row(rec: string[], line: number): void {
    if (rec.length !== this.width) {
      this.problems.push({
        path: `line ${line}`,
        message: `has ${rec.length} fields, the header ${this.width}`,
      });
      return;
    }
    const before = this.problems.length;
    const get = (c: TopologyColumn): string => {
      const i = this.col[c];
      return i === undefined ? '' : rec[i]!.trim();
    };
    const problem = (c: TopologyColumn, message: string) =>
      this.problems.push({ path: `line ${line}, column ${c}`, message });
    const required = (c: TopologyColumn): string => {
      const v = get(c);
      if (v === '') problem(c, 'is required');
      return v;
    };
    const number = (c: TopologyColumn, fallback?: number): number | undefined => {
      const v = get(c);
      if (v === '') {
        if (fallback === undefined) problem(c, 'is required');
        return fallback;
      }
      const n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v) ? Number(v) : NaN;
      if (!Number.isFinite(n) || n <= 0) {
        problem(c, `${JSON.stringify(v)} is not a positive number`);
        return undefined;
      }
      return n;
    };

    const substation = required('substation');
    const feeder = required('feeder');
    const transformer = required('transformer');
    const kva = number('transformer_kva');
    const phase = required('transformer_phase').toUpperCase();
    const servicePoint = required('service_point');
    const premise = required('premise');
    const account = get('account');
    const customerClass = get('customer_class').toUpperCase();
    if (account && !customerClass) problem('customer_class', 'is required when account is given');
    const timeZone = required('time_zone');
    const serial = required('meter_serial');
    const mrid = get('meter_mrid') || null;
    const multiplier = number('multiplier', 1);
    const intervalSeconds = number('interval_seconds', 900);
    if (intervalSeconds !== undefined && !Number.isInteger(intervalSeconds)) {
      problem('interval_seconds', 'must be a whole number of seconds');
    }
    const channelsRaw = get('channels') || 'delivered';
    const channels = channelsRaw.split('|').map((c) => c.trim().toLowerCase());
    if (
      !channels.every((c) => c === 'delivered' || c === 'received') ||
      new Set(channels).size !== channels.length
    ) {
      problem('channels', `${JSON.stringify(channelsRaw)} must be delivered or delivered|received`);
    }
    const installedAt = required('installed_at');
    const removedAt = get('removed_at') || null;
    const status = get('status').toUpperCase() || 'ACTIVE';
    const commPath = required('comm_path').toUpperCase();
    if (this.problems.length > before) return;

    this.merge('substation', this.substations, { code: substation }, line, []);
    this.merge('feeder', this.feeders, { code: feeder, substation }, line, [
      ['substation', (f) => f.substation],
    ]);
    this.merge(
      'transformer',
      this.transformers,
      { code: transformer, feeder, ratedKva: kva!, phase: phase as TransformerDoc['phase'] },
      line,
      [
        ['feeder', (t) => t.feeder],
        ['transformer_kva', (t) => t.ratedKva],
        ['transformer_phase', (t) => t.phase],
      ],
    );
    if (account) {
      this.merge(
        'account',
        this.accounts,
        { code: account, customerClass: customerClass as AccountDoc['customerClass'] },
        line,
        [['customer_class', (a) => a.customerClass]],
      );
    }
    this.merge(
      'service point',
      this.servicePoints,
      { code: servicePoint, transformer, premise, account: account || null, timeZone },
      line,
      [
        ['transformer', (sp) => sp.transformer],
        ['premise', (sp) => sp.premise],
        ['account', (sp) => sp.account ?? ''],
        ['time_zone', (sp) => sp.timeZone],
      ],
    );
    const meterKey = `meters:${serial}`;
    const seen = this.firstLine.get(meterKey);
    if (seen !== undefined) {
      this.problems.push({
        path: `line ${line}, column meter_serial`,
        message: `meter ${serial} is already defined at line ${seen}; one row per meter`,
      });
      return;
    }
    this.firstLine.set(meterKey, line);
    this.origin.set(`meters[${this.meters.size}]`, line);
    this.meters.set(serial, {
      serial,
      mrid,
      servicePoint,
      multiplier: multiplier!,
      unit: 'kWh',
      intervalSeconds: intervalSeconds!,
      channels: channels as MeterDoc['channels'],
      installedAt,
      removedAt,
      status: status as MeterDoc['status'],
      commPath: commPath as MeterDoc['commPath'],
    });
  }

  /**
   * Keeps the first row's parent and reports later rows that disagree with it on an
   * attribute (a parent must be described the same way on every row).
   */
  private merge<T extends { code: string }>(
    kind: string,
    map: Map<string, T>,
    item: T,
    line: number,
    attrs: Array<[TopologyColumn, (x: T) => string | number]>,
  ): void {
    const prev = map.get(item.code);
    const key = `${kind}:${item.code}`;
    if (!prev) {
      const collection = COLLECTION_OF[kind]!;
      this.origin.set(`${collection}[${map.size}]`, line);
      map.set(item.code, item);
      this.firstLine.set(key, line);
      return;
    }
    for (const [column, get] of attrs) {
      if (get(prev) !== get(item)) {
        this.problems.push({
          path: `line ${line}, column ${column}`,
          message: `${kind} ${item.code} has ${column} ${JSON.stringify(get(item))} here but ${JSON.stringify(get(prev))} at line ${this.firstLine.get(key)}; describe it the same way on every row`,
        });
      }
    }
  }

  doc(): TopologyDoc {
    return {
      substations: [...this.substations.values()],
      feeders: [...this.feeders.values()],
      transformers: [...this.transformers.values()],
      accounts: [...this.accounts.values()],
      servicePoints: [...this.servicePoints.values()],
      meters: [...this.meters.values()],
    };
  }
}

export async function parseTopologyCsv(file: string): Promise<LoadedTopology> {
  const builder = new TopologyCsvBuilder();
  const parser = parse({
    bom: true,
    relax_column_count: true,
    record_delimiter: ['\n', '\r\n'],
    max_record_size: MAX_RECORD_BYTES,
  });
  pipeline(fs.createReadStream(file), parser, () => {
    // errors reach the iteration below
  });
  let nextLine = 1;
  let first = true;
  try {
    for await (const rec of parser as AsyncIterable<string[]>) {
      const line = nextLine;
      nextLine++;
      for (const f of rec) if (f.indexOf('\n') >= 0) nextLine += f.split('\n').length - 1;
      if (first) {
        first = false;
        builder.header(rec);
        continue;
      }
      if (rec.length === 1 && rec[0]!.trim() === '') continue;
      builder.row(rec, line);
      if (builder.problems.length >= 1000) break;
    }
  } catch (err) {
    if (isMeterdataError(err)) throw err;
    const e = err as { code?: string; lines?: number; message: string };
    throw new MeterdataError(
      ErrorCode.MALFORMED_FILE,
      `${path.basename(file)} is not valid CSV: ${e.message}`,
      { cause: err, details: e.lines === undefined ? {} : { line: e.lines } },
    );
  }
  if (first) {
    throw new MeterdataError(ErrorCode.MISSING_COLUMN, `${path.basename(file)} is empty`, {
      details: { line: 1 },
    });
  }
  if (builder.problems.length) throw problemsError(file, builder.problems);
  return { doc: builder.doc(), origin: builder.origin, format: 'csv' };
}

export async function loadTopologyFile(file: string): Promise<LoadedTopology> {
  requireFile(file);
  const ext = path.extname(file).toLowerCase();
  const bytes = fs.readFileSync(file);
  assertUtf8(bytes, path.basename(file));
  if (ext === '.json') {
    const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
    return { doc: parseTopologyJson(text, file), origin: new Map(), format: 'json' };
  }
  if (ext === '.csv') return parseTopologyCsv(file);
  throw new MeterdataError(
    ErrorCode.BAD_USER_INPUT,
    `cannot tell the format of ${path.basename(file)}: name it .json (TopologyDoc) or .csv (one row per meter)`,
  );
}

// ---------------------------------------------------------------------------------------------
// Problems as the validator reports them

/** Normalises one problem of importTopology's `details.problems` to a path and a message. */
export function describeProblem(p: unknown, origin: Map<string, number>): string {
  let where = '';
  let message: string;
  if (typeof p === 'string') message = p;
  else if (p && typeof p === 'object') {
    const o = p as { path?: unknown; message?: unknown; code?: unknown };
    where = Array.isArray(o.path)
      ? o.path.reduce<string>(
          (s, seg) =>
            typeof seg === 'number' ? `${s}[${seg}]` : s ? `${s}.${String(seg)}` : String(seg),
          '',
        )
      : typeof o.path === 'string'
        ? o.path
        : '';
    message =
      (typeof o.code === 'string' ? `${o.code}: ` : '') +
      (typeof o.message === 'string' ? o.message : JSON.stringify(p));
  } else message = String(p);
  const m = /^(\w+\[\d+\])/.exec(where);
  const line = m ? origin.get(m[1]!) : undefined;
  if (line !== undefined) where = `line ${line} (${where})`;
  return where ? `${where}: ${message}` : message;
}

export function printProblems(io: CliIo, err: MeterdataError, origin: Map<string, number>): void {
  const problems = err.details?.problems;
  if (!Array.isArray(problems)) return;
  for (const p of problems) writeLine(io.stderr, `  ${describeProblem(p, origin)}`);
}

export async function runTopologyImport(
  io: CliIo,
  file: string,
): Promise<Awaited<ReturnType<typeof importTopology>>> {
  let loaded: LoadedTopology;
  try {
    loaded = await loadTopologyFile(file);
  } catch (err) {
    if (isMeterdataError(err)) printProblems(io, err, new Map());
    throw err;
  }
  return withRuntime(io, async (rt) => {
    let counts: Awaited<ReturnType<typeof importTopology>>;
    try {
      counts = await importTopology(rt.db.pool, loaded.doc);
    } catch (err) {
      if (isMeterdataError(err) && Array.isArray(err.details?.problems)) {
        printProblems(io, err, loaded.origin);
        const n = (err.details.problems as unknown[]).length;
        throw new MeterdataError(
          err.code,
          `${path.basename(file)} has ${n} problem${n === 1 ? '' : 's'}; nothing was imported`,
          { cause: err, details: err.details },
        );
      }
      throw err;
    }
    writeLine(
      io.stdout,
      `imported ${path.basename(file)}: ${fmtInt(counts.substations)} substations, ${fmtInt(counts.feeders)} feeders, ` +
        `${fmtInt(counts.transformers)} transformers, ${fmtInt(counts.accounts)} accounts, ` +
        `${fmtInt(counts.servicePoints)} service points, ${fmtInt(counts.meters)} meters`,
    );
    return counts;
  });
}

export function registerTopology(program: Command, io: CliIo): void {
  const topology = program.command('topology').description('network and customer topology');
  topology
    .command('import')
    .description(
      'import (insert or update) a topology file: .json (TopologyDoc) or .csv (one row per meter); see docs/formats.md',
    )
    .argument('<file>', 'topology file')
    .action(async (file: string) => {
      await runTopologyImport(io, file);
    });
}
