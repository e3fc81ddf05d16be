/** The report: its JSON shape, the targets, and the table printed on stdout. */
import fs from 'node:fs';
import path from 'node:path';
import { type LoadResult } from './load';
import { fmt, type LatencySummary } from './util';

export interface IngestSide {
  readings: number;
  /** wall-clock of the child process (psql / node bin/meterdata.js), ms */
  wallMs: number;
  readingsPerSecond: number;
  /** what the side printed (ours: the --json line) */
  output?: unknown;
}

export interface SectionError {
  error: string;
}

export type Maybe<T> = T | SectionError;

export function isError<T>(v: Maybe<T> | undefined): v is SectionError {
  return typeof v === 'object' && v !== null && 'error' in v;
}

export interface StorageSide {
  bytes: number;
  heapBytes: number;
  indexBytes: number;
  partitions: number;
  rows: number;
  bytesPerReading: number;
}

export type Sequential = LatencySummary & { errors: number; firstError?: string };

export interface Report {
  startedAt: string;
  finishedAt?: string;
  durationSeconds?: number;
  options: Record<string, unknown>;
  environment: Record<string, unknown>;
  data: Record<string, unknown>;
  ingest: { ours?: Maybe<IngestSide>; naive?: Maybe<IngestSide>; ratio?: number | null };
  storage: { ours?: Maybe<StorageSide>; naive?: Maybe<StorageSide>; ratio?: number | null };
  meterMonth: {
    window?: { from: string; to: string; intervals: number };
    ours?: Maybe<LoadResult>;
    postgraphile?: Maybe<LoadResult & { field: string }>;
    ratio?: number | null;
  };
  manyMeters: {
    ours?: { instant?: Maybe<Sequential>; transformerMonth?: Maybe<Sequential> };
    naiveSql?: { instant?: Maybe<Sequential>; transformerMonth?: Maybe<Sequential> };
  };
  targets: Target[];
  timings: Record<string, number>;
  /** 1-minute load average at the start and at the end of each step (noise indicator) */
  loadAverage: Record<string, number>;
  errors: string[];
}

export interface Target {
  name: string;
  goal: string;
  value: number | null;
  met: boolean | null;
}

const num = <T extends object>(v: Maybe<T> | undefined, key: keyof T): number | null =>
  v && !isError(v) ? (v[key] as unknown as number) : null;

export function ratio(a: number | null, b: number | null): number | null {
  return a !== null && b !== null && b > 0 ? Math.round((a / b) * 1000) / 1000 : null;
}

export function computeTargets(r: Report): Target[] {
  const storage = num(r.storage.ours, 'bytesPerReading');
  return [
    {
      name: 'storage, ours',
      goal: '≤ 8 bytes/reading',
      value: storage,
      met: storage === null ? null : storage <= 8,
    },
    {
      name: 'meter-month read, ours / PostGraphile',
      goal: '≥ 4×',
      value: r.meterMonth.ratio ?? null,
      met: r.meterMonth.ratio == null ? null : r.meterMonth.ratio >= 4,
    },
    {
      name: 'ingest, ours / naive \\copy',
      goal: '≥ 1.0×',
      value: r.ingest.ratio ?? null,
      met: r.ingest.ratio == null ? null : r.ingest.ratio >= 1,
    },
  ];
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r, i) => {
      const line = r.map((cell, c) =>
        c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!),
      );
      const s = line.join('  ').trimEnd();
      return i === 0 ? `${s}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : s;
    })
    .join('\n');
}

const x = (v: number | null | undefined) => (v == null ? '—' : `${fmt(v, 2)}×`);
const err = (v: unknown) => (isError(v as Maybe<object>) ? 'error' : '—');
const lat = (v: Maybe<LatencySummary> | undefined) =>
  v && !isError(v) ? `${fmt(v.p50Ms, 1)} / ${fmt(v.p95Ms, 1)}` : err(v);

export function renderTable(r: Report): string {
  const d = r.data as { meters: number; days: number; readings: number; seed: number };
  const out: string[] = [];
  out.push(
    `meterdata benchmark: ${fmt(d.meters)} meters × ${d.days} days = ${fmt(d.readings)} readings (seed ${d.seed}), ` +
      `PostgreSQL ${r.environment.postgres}, Node ${process.versions.node}, ${r.environment.cpus} CPUs`,
  );
  const w = r.meterMonth.window;
  if (w)
    out.push(
      `meter-month and transformer window: ${w.from} → ${w.to} (${fmt(w.intervals)} intervals)`,
    );
  out.push('');
  const ing = r.ingest;
  const st = r.storage;
  const mm = r.meterMonth;
  const rows: string[][] = [
    ['measure', 'ours', 'baseline', 'ours/baseline', 'target', 'status'],
    [
      'ingest, readings/s',
      num(ing.ours, 'readingsPerSecond') === null
        ? err(ing.ours)
        : fmt(num(ing.ours, 'readingsPerSecond')),
      num(ing.naive, 'readingsPerSecond') === null
        ? err(ing.naive)
        : fmt(num(ing.naive, 'readingsPerSecond')),
      x(ing.ratio),
      '≥ 1.0×',
      status(r.targets[2]),
    ],
    [
      'storage, bytes/reading',
      num(st.ours, 'bytesPerReading') === null
        ? err(st.ours)
        : fmt(num(st.ours, 'bytesPerReading'), 2),
      num(st.naive, 'bytesPerReading') === null
        ? err(st.naive)
        : fmt(num(st.naive, 'bytesPerReading'), 2),
      x(st.ratio),
      '≤ 8 B',
      status(r.targets[0]),
    ],
    [
      `meter-month, req/s (${mm.ours && !isError(mm.ours) ? mm.ours.clients : '?'} clients)`,
      num(mm.ours, 'requestsPerSecond') === null
        ? err(mm.ours)
        : fmt(num(mm.ours, 'requestsPerSecond'), 1),
      num(mm.postgraphile, 'requestsPerSecond') === null
        ? err(mm.postgraphile)
        : fmt(num(mm.postgraphile, 'requestsPerSecond'), 1),
      x(mm.ratio),
      '≥ 4×',
      status(r.targets[1]),
    ],
    ['meter-month, p50 / p95 ms', lat(mm.ours), lat(mm.postgraphile), '', '', ''],
    [
      'instant(at:), p50 / p95 ms',
      lat(r.manyMeters.ours?.instant),
      `${lat(r.manyMeters.naiveSql?.instant)} (SQL)`,
      '',
      '',
      '',
    ],
    [
      'transformer month, p50 / p95 ms',
      lat(r.manyMeters.ours?.transformerMonth),
      `${lat(r.manyMeters.naiveSql?.transformerMonth)} (SQL)`,
      '',
      '',
      '',
    ],
  ];
  out.push(table(rows));
  out.push('');
  out.push(
    'baseline: ingest = psql \\copy into the row-per-reading table; storage = that table; ' +
      'meter-month = PostGraphile v4 over it; many-meters = the same question in plain SQL (no GraphQL).',
  );
  if (r.errors.length) {
    out.push('');
    out.push('errors:');
    for (const e of r.errors) out.push(`  - ${e.split('\n')[0]}`);
  }
  return out.join('\n');
}

function status(t: Target | undefined): string {
  if (!t || t.met === null) return 'not measured';
  return t.met ? 'met' : 'NOT MET';
}

export function writeReport(dir: string, r: Report): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `report-${r.startedAt.replace(/:/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
  return file;
}
