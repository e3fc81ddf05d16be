/** The report: its JSON shape, the targets, and the table printed on stdout. */
import fs from 'node:fs';
import path from 'node:path';
import type { FaultDetectionScore } from '../src/domain/vee';
import { type LoadResult } from './load';
import { fmt, type LatencySummary } from './util';

export interface IngestSide {
  readings: number;
  /** wall-clock of the child process (psql / node bin/meterdata.js), ms */
  wallMs: number;
  readingsPerSecond: number;
  /** what the side printed (ours: the --json line) */
  output?: unknown;
  /** WAL written while loading */
  walBytes?: number;
  /** ours: the command line that was timed */
  command?: string;
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

export type HeadendFormat = 'csv' | 'cmep' | 'espi';
/** `default`: the worker CLI's defaults; `single`: `--parse-threads 0`, one thread per process */
export type HeadendShape = 'default' | 'single';

export interface HeadendCounts {
  itemsTotal: number;
  chunks: number;
  accepted: number;
  unchanged: number;
  changed: number;
  rejected: number;
  parseRejected: number;
}

export interface HeadendCpu {
  /** the landing process (CLI or server) during the landing */
  landingProcess: number | null;
  /** PostgreSQL (all backends) during the landing */
  landingPostgres: number | null;
  /** all worker processes, start to stop */
  workers: number | null;
  /** PostgreSQL from the workers' start until the file was done */
  processingPostgres: number | null;
}

/** One file through landing → queue → N worker processes → store, on a fresh database. */
export interface HeadendRun {
  format: HeadendFormat;
  workers: number;
  shape: HeadendShape;
  landing: 'cli' | 'http';
  file: string;
  fileBytes: number;
  readings: number;
  fileId: number;
  /** wall-clock of the landing (CLI process, or the HTTP upload until its 202) */
  landingMs: number;
  /** from starting the worker processes until the file is `done` */
  processingMs: number;
  /** from starting the workers until the first chunk was taken (start-up) */
  firstProgressMs: number | null;
  wallMs: number;
  /** readings / (landing + processing) */
  readingsPerSecond: number;
  /** readingsPerSecond / the naive \copy readings/s of this run */
  ratio: number | null;
  landingReadingsPerSecond: number;
  processingReadingsPerSecond: number;
  counts: HeadendCounts;
  /** CPU seconds */
  cpuSeconds: HeadendCpu;
  walBytes: { landing: number; processing: number };
  walBytesPerReading: number;
  peakRssBytes: { landing: number | null; landingProcess: string; workers: Array<number | null> };
}

export interface HeadendRss {
  gib: number;
  fileBytes: number;
  readings: number;
  meters: number;
  generateSeconds: number;
  landingProcess: string;
  landingPeakRssBytes: number | null;
  workerPeakRssBytes: number | null;
  targetBytes: number;
  counts: HeadendCounts;
  landingMs: number;
  processingMs: number;
  readingsPerSecond: number;
  cpuSeconds: HeadendCpu;
  walBytesPerReading: number;
}

export interface SelfCheck {
  meters: number;
  days: number;
  deliveredReadings: number;
  readings: Record<HeadendFormat, number>;
  ok: boolean;
}

export interface HeadendSection {
  landing?: 'cli' | 'http';
  redis?: string;
  naiveReadingsPerSecond?: number | null;
  files?: Partial<Record<HeadendFormat, { bytes: number; readings: number }>>;
  selfCheck?: Maybe<SelfCheck>;
  /** every run, of every round (--headend-rounds); figures use the median round's (headendRunOf) */
  runs: Array<
    Maybe<HeadendRun> & {
      format?: HeadendFormat;
      workers?: number;
      shape?: HeadendShape;
      round?: number;
    }
  >;
  rss?: Maybe<HeadendRss> | { skipped: string };
  skipped?: string;
}

/** One timed `meterdata ingest --wait` of the bench CSV into a fresh database (vee.ts). */
export interface VeeIngestRun {
  vee: 'on' | 'off';
  database: string;
  readings: number;
  wallMs: number;
  readingsPerSecond: number;
  walBytes: number;
  counts: { accepted: number; unchanged: number; changed: number; rejected: number };
  /**
   * open exceptions after the run. The CSV is fault-free, but its days are UTC days and it has
   * no history before its first one, so the rules may find partial local days at both ends.
   */
  exceptions: number;
  exceptionsByRule: Record<string, number>;
  /** untimed, after the run: did a changed resend raise `rule` (i.e. did the rules run)? */
  probe: { rule: string; raised: boolean };
  command: string;
  /** the CLI's --json line */
  output: Record<string, unknown>;
}

export interface VeeOnOff {
  /** the order of the two runs (of the median round) */
  order: Array<'on' | 'off'>;
  off?: Maybe<VeeIngestRun>;
  on?: Maybe<VeeIngestRun>;
  /** on / off, readings per second */
  ratio: number | null;
  /** the probes show the rules ran with MD_VEE=on and did not with MD_VEE=off; null if unknown */
  switchHonoured: boolean | null;
  /**
   * every off / on pair (--vee-rounds); `ratio`, `on` and `off` above are the median round's
   */
  rounds?: Array<{
    order: Array<'on' | 'off'>;
    offReadingsPerSecond: number | null;
    onReadingsPerSecond: number | null;
    ratio: number | null;
  }>;
}

/** runVeeAcceptance on a fleet with the simulator's default fault rates (vee.ts). */
export interface VeeAcceptance extends FaultDetectionScore {
  meters: number;
  days: number;
  historyDays: number;
  seed: number;
  windowStart: string;
  faultRates: string;
  rows: number;
  /** the window's ingest in the harness process (history excluded), ms */
  ingestMs: number;
  readingsPerSecond: number;
  exceptions: number;
}

export interface VeeSection {
  onOff?: Maybe<VeeOnOff>;
  acceptance?: Maybe<VeeAcceptance>;
  skipped?: string;
}

export interface Report {
  startedAt: string;
  finishedAt?: string;
  durationSeconds?: number;
  options: Record<string, unknown>;
  environment: Record<string, unknown>;
  data: Record<string, unknown>;
  ingest: {
    /** the median round's runs (the first round's databases serve storage and reads) */
    ours?: Maybe<IngestSide>;
    naive?: Maybe<IngestSide>;
    /** median of the rounds' ratios */
    ratio?: number | null;
    rounds?: Array<{
      order: Array<'ours' | 'naive'>;
      oursReadingsPerSecond: number | null;
      naiveReadingsPerSecond: number | null;
      ratio: number | null;
    }>;
  };
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
  headend: HeadendSection;
  vee: VeeSection;
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
  /** why a measured value does not count against the target */
  note?: string;
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
      ...(r.options.skipReads ? { note: 'skipped (--skip-reads)' } : {}),
    },
    {
      name: 'ingest, ours / naive \\copy',
      goal: '≥ 1.0×',
      value: r.ingest.ratio ?? null,
      met: r.ingest.ratio == null ? null : r.ingest.ratio >= 1,
    },
    ...headendTargets(r),
    ...veeTargets(r),
  ];
}

const MB = 1e6;
export const RSS_TARGET_MB = 300;
/** the peak-RSS target applies to a file of at least this many bytes (1 GB) */
export const RSS_MIN_FILE_BYTES = 1e9;

/** A run's shape (reports from before shapes were measured have the default shape only). */
const shapeOf = (x: { shape?: HeadendShape }): HeadendShape => x.shape ?? 'default';

/** The finished head-end runs of that format, worker count and shape, every round. */
export function headendRunsOf(
  r: Report,
  format: HeadendFormat,
  workers: number,
  shape: HeadendShape = 'default',
): HeadendRun[] {
  return r.headend.runs.filter(
    (x): x is HeadendRun =>
      !isError(x) && x.format === format && x.workers === workers && shapeOf(x) === shape,
  );
}

/**
 * The median round's run of that format, worker count and shape (by readings per second; of an
 * even number, the lower middle one), if any finished.
 */
export function headendRunOf(
  r: Report,
  format: HeadendFormat,
  workers: number,
  shape: HeadendShape = 'default',
): HeadendRun | undefined {
  const runs = headendRunsOf(r, format, workers, shape).sort(
    (a, b) => a.readingsPerSecond - b.readingsPerSecond,
  );
  return runs[Math.floor((runs.length - 1) / 2)];
}

export interface HeadendKind {
  format: HeadendFormat;
  workers: number;
  shape: HeadendShape;
}

/** Each shape, format and worker count once: shapes in run order, then formats, then counts. */
function headendKinds(r: Report): HeadendKind[] {
  const seen = new Map<string, HeadendKind>();
  for (const x of r.headend.runs) {
    if (!x.format || x.workers === undefined) continue;
    const k = { format: x.format, workers: x.workers, shape: shapeOf(x) };
    seen.set(`${k.shape}:${k.format}:${k.workers}`, k);
  }
  const first = (f: (x: (typeof r.headend.runs)[number]) => boolean) => r.headend.runs.findIndex(f);
  return [...seen.values()].sort(
    (a, b) =>
      first((x) => shapeOf(x) === a.shape) - first((x) => shapeOf(x) === b.shape) ||
      first((x) => x.format === a.format) - first((x) => x.format === b.format) ||
      a.workers - b.workers,
  );
}

/** "csv, 2 workers" and, for the single shape, "…, one thread each". */
export function headendKindLabel(k: HeadendKind): string {
  const base = `${k.format}, ${k.workers} worker${k.workers === 1 ? '' : 's'}`;
  return k.shape === 'single' ? `${base}, one thread each` : base;
}

/** The target names of a kind (the 1-worker ratio to naive; N workers against 1). */
function headendTargetName(k: HeadendKind): string {
  const suffix = k.shape === 'single' ? ' (one thread each)' : '';
  return k.workers === 1
    ? `head-end ${k.format}, 1 worker / naive \\copy${suffix}`
    : `head-end ${k.format}, ${k.workers} workers / 1 worker${suffix}`;
}

function headendTargets(r: Report): Target[] {
  const out: Target[] = [];
  if (r.headend.skipped) return out;
  for (const k of headendKinds(r)) {
    const one = headendRunOf(r, k.format, 1, k.shape);
    if (k.workers === 1) {
      // The ratio to naive is the product's own target: its default shape only.
      if (k.shape !== 'default') continue;
      const v = one?.ratio ?? null;
      out.push({
        name: headendTargetName(k),
        goal: '≥ 1.0×',
        value: v,
        met: v === null ? null : v >= 1,
      });
      continue;
    }
    const many = headendRunOf(r, k.format, k.workers, k.shape);
    const v =
      one && many
        ? Math.round((many.readingsPerSecond / one.readingsPerSecond) * 1000) / 1000
        : null;
    out.push({
      name: headendTargetName(k),
      goal: '> 1.0×',
      value: v,
      met: v === null ? null : v > 1,
    });
  }
  const rss = r.headend.rss;
  if (rss && !('skipped' in rss)) {
    const small = !isError(rss) && rss.fileBytes < RSS_MIN_FILE_BYTES;
    const w = !isError(rss) && rss.workerPeakRssBytes !== null ? rss.workerPeakRssBytes / MB : null;
    const l =
      !isError(rss) && rss.landingPeakRssBytes !== null ? rss.landingPeakRssBytes / MB : null;
    const note = small ? { note: 'file < 1 GB' } : {};
    out.push({
      name: 'peak RSS, worker on a ≥ 1 GB file',
      goal: `≤ ${RSS_TARGET_MB} MB`,
      value: w === null ? null : Math.round(w),
      met: w === null || small ? null : w <= RSS_TARGET_MB,
      ...note,
    });
    out.push({
      name: `peak RSS, landing (${!isError(rss) ? rss.landingProcess : '?'}) on a ≥ 1 GB file`,
      goal: `≤ ${RSS_TARGET_MB} MB`,
      value: l === null ? null : Math.round(l),
      met: l === null || small ? null : l <= RSS_TARGET_MB,
      ...note,
    });
  }
  return out;
}

export const VEE_RATIO_TARGET = 0.85;
export const VEE_RECALL_TARGET = 0.95;
/** false positives, as a share of clean meter-days */
export const VEE_FP_TARGET = 0.005;
/** the fault types with a recall target, and how the table names them */
export const VEE_RECALL_TYPES = {
  gap: 'gaps',
  spike: 'spikes',
  zeroRun: 'zero runs',
  changedResend: 'conflicting duplicates',
} as const;
type VeeRecallType = keyof typeof VEE_RECALL_TYPES;

const pct = (v: number | null) => (v === null ? null : Math.round(v * 10_000) / 100);

function veeTargets(r: Report): Target[] {
  const v = r.vee;
  if (v.skipped) return [];
  const out: Target[] = [];
  const onOff = v.onOff && !isError(v.onOff) ? v.onOff : null;
  const ratio = onOff?.ratio ?? null;
  out.push({
    name: 'VEE ingest, on / off',
    goal: `≥ ${VEE_RATIO_TARGET}×`,
    value: ratio,
    met: ratio === null || onOff?.switchHonoured === false ? null : ratio >= VEE_RATIO_TARGET,
    // A ratio of two runs that both validated (or neither) says nothing about the rules' cost.
    ...(onOff?.switchHonoured === false ? { note: 'MD_VEE ignored' } : {}),
  });
  const a = v.acceptance && !isError(v.acceptance) ? v.acceptance : null;
  for (const [t, label] of Object.entries(VEE_RECALL_TYPES) as Array<[VeeRecallType, string]>) {
    const s = a?.byType[t];
    const none = s !== undefined && s.injected === 0;
    out.push({
      name: `VEE recall, ${label} (${t})`,
      goal: `≥ ${VEE_RECALL_TARGET * 100} %`,
      value: pct(s?.recall ?? null),
      met: s?.recall == null ? null : s.recall >= VEE_RECALL_TARGET,
      ...(none ? { note: 'none injected' } : {}),
    });
  }
  const fp = a ? a.falsePositiveRate : null;
  out.push({
    name: 'VEE false positives, % of clean meter-days',
    goal: `≤ ${VEE_FP_TARGET * 100} %`,
    value: pct(fp),
    met: fp === null ? null : fp <= VEE_FP_TARGET,
  });
  return out;
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
  rows.push(...headendRows(r));
  rows.push(...veeRows(r));
  out.push(table(rows));
  out.push('');
  out.push(
    'baseline: ingest = psql \\copy into the row-per-reading table; storage = that table; ' +
      'meter-month = PostGraphile v4 over it; many-meters = the same question in plain SQL (no GraphQL).',
  );
  const ingestRounds = r.ingest.rounds ?? [];
  if (ingestRounds.length > 1) {
    out.push(
      `ingest: ${ingestRounds.length} rounds, alternating which runs first, each into a fresh table or database; ` +
        `the median round's ratio, of ` +
        ingestRounds
          .map(
            (k) =>
              `${k.ratio === null ? '—' : k.ratio.toFixed(2)}× (${fmt(k.oursReadingsPerSecond)} / ${fmt(k.naiveReadingsPerSecond)})`,
          )
          .join(', ') +
        '.',
    );
  }
  const veeNote = veeFootnote(r);
  if (veeNote) out.push(veeNote);
  const details = headendDetails(r);
  if (details) {
    out.push('');
    out.push(details);
  }
  if (r.errors.length) {
    out.push('');
    out.push('errors:');
    for (const e of r.errors) out.push(`  - ${e.split('\n')[0]}`);
  }
  return out.join('\n');
}

const mb = (b: number | null | undefined) => (b == null ? '—' : fmt(b / MB, 0));
const sec = (msec: number) => fmt(msec / 1000, 1);
const targetOf = (r: Report, name: string) => r.targets.find((t) => t.name === name);

/** The head-end rows of the main table: readings/s per format and worker count, peak RSS. */
function headendRows(r: Report): string[][] {
  const h = r.headend;
  const rows: string[][] = [];
  if (h.skipped) {
    rows.push(['head-end ingestion', 'skipped', '', '', '', '']);
    return rows;
  }
  for (const kind of headendKinds(r)) {
    const run: Maybe<HeadendRun> = headendRunOf(r, kind.format, kind.workers, kind.shape) ??
      h.runs.find(
        (x) =>
          x.format === kind.format &&
          x.workers === kind.workers &&
          shapeOf(x) === kind.shape &&
          isError(x),
      ) ?? { error: 'no run' };
    const label = `head-end ${headendKindLabel(kind)}, readings/s`;
    if (isError(run)) {
      rows.push([label, 'error', fmt(h.naiveReadingsPerSecond), '—', '', 'not measured']);
      continue;
    }
    const t = targetOf(r, headendTargetName(kind));
    const goal = kind.workers === 1 ? (t ? '≥ 1.0×' : '') : '> 1 worker';
    rows.push([
      label,
      fmt(run.readingsPerSecond),
      fmt(h.naiveReadingsPerSecond),
      x(run.ratio),
      goal,
      kind.workers === 1 ? (t ? status(t) : '') : `${status(t)} (${x(t?.value)})`,
    ]);
  }
  const rss = h.rss;
  if (rss && 'skipped' in rss) {
    rows.push(['peak RSS on a ≥ 1 GB file', 'skipped', '', '', '', '']);
  } else if (rss) {
    const size = isError(rss) ? '' : ` (${fmt(rss.fileBytes / 1e9, 2)} GB CSV)`;
    const w = targetOf(r, 'peak RSS, worker on a ≥ 1 GB file');
    const l = r.targets.find((t) => t.name.startsWith('peak RSS, landing'));
    rows.push([
      `peak RSS, worker${size}, MB`,
      isError(rss) ? 'error' : mb(rss.workerPeakRssBytes),
      '',
      '',
      `≤ ${RSS_TARGET_MB} MB`,
      status(w),
    ]);
    rows.push([
      `peak RSS, landing (${isError(rss) ? '?' : rss.landingProcess}), MB`,
      isError(rss) ? 'error' : mb(rss.landingPeakRssBytes),
      '',
      '',
      `≤ ${RSS_TARGET_MB} MB`,
      status(l),
    ]);
  }
  return rows;
}

const rs = (v: Maybe<VeeIngestRun> | undefined) =>
  v && !isError(v) ? fmt(v.readingsPerSecond) : v ? 'error' : '—';
const share = (n: number, of: number) =>
  `${fmt(of > 0 ? (n / of) * 100 : null, 1)} % (${fmt(n)}/${fmt(of)})`;

/** The VEE rows of the main table: ingest on vs off, recall per fault type, false positives. */
function veeRows(r: Report): string[][] {
  const v = r.vee;
  if (v.skipped) return [['VEE', 'skipped', '', '', '', '']];
  const rows: string[][] = [];
  const onOff = v.onOff;
  const ratioTarget = targetOf(r, 'VEE ingest, on / off');
  rows.push([
    'ingest, VEE on / off, readings/s',
    isError(onOff) ? 'error' : rs(onOff?.on),
    isError(onOff) ? 'error' : `${rs(onOff?.off)} (off)`,
    x(onOff && !isError(onOff) ? onOff.ratio : null),
    `≥ ${VEE_RATIO_TARGET}×`,
    status(ratioTarget),
  ]);
  const a = v.acceptance;
  const scored = a && !isError(a) ? a : null;
  const failed = !scored ? (a ? 'error' : '—') : null;
  for (const [t, label] of Object.entries(VEE_RECALL_TYPES) as Array<[VeeRecallType, string]>) {
    const s = scored?.byType[t];
    rows.push([
      `VEE recall, ${label}`,
      failed ?? (s ? share(s.detected, s.injected) : '—'),
      '',
      '',
      `≥ ${VEE_RECALL_TARGET * 100} %`,
      status(targetOf(r, `VEE recall, ${label} (${t})`)),
    ]);
  }
  // The other fault types the score counts, without a target. A type no rule is meant to
  // catch (identical duplicates) counts the faults that raised something anyway.
  for (const [t, s] of Object.entries(scored?.byType ?? {})) {
    if (t in VEE_RECALL_TYPES) continue;
    const label = s.rules.length
      ? `VEE recall, ${t}`
      : `VEE ${t === 'duplicate' ? 'identical duplicate' : t}s raising one`;
    rows.push([label, share(s.detected, s.injected), '', '', 'no target', '']);
  }
  rows.push([
    'VEE false positives, clean meter-days',
    failed ?? share(scored!.falsePositiveMeterDays, scored!.cleanMeterDays),
    '',
    '',
    `≤ ${VEE_FP_TARGET * 100} %`,
    status(targetOf(r, 'VEE false positives, % of clean meter-days')),
  ]);
  return rows;
}

/** What the VEE rows measured, and a warning when MD_VEE=off did not switch the rules off. */
function veeFootnote(r: Report): string | null {
  const v = r.vee;
  if (v.skipped) return null;
  const lines: string[] = [];
  const onOff = v.onOff && !isError(v.onOff) ? v.onOff : null;
  const rounds = onOff?.rounds ?? [];
  const months = Number(r.options.historyMonths ?? 0);
  const store =
    months > 0
      ? `a fresh database each, holding ${months} months of empty partitions before the data`
      : 'a fresh database each';
  lines.push(
    rounds.length > 1
      ? `VEE on / off: the same CSV through meterdata ingest --wait into ${store}, ` +
          `${rounds.length} rounds alternating which runs first; the median round's ratio, of ` +
          rounds
            .map(
              (r) =>
                `${r.ratio === null ? '—' : r.ratio.toFixed(2)}× (${fmt(r.onReadingsPerSecond)} / ${fmt(r.offReadingsPerSecond)})`,
            )
            .join(', ') +
          '.'
      : `VEE on / off: the same CSV through meterdata ingest --wait into ${store}, ` +
          `MD_VEE=${onOff?.order.join(', then MD_VEE=') ?? 'off, then MD_VEE=on'}.`,
  );
  const on = onOff?.on && !isError(onOff.on) ? onOff.on : null;
  if (on) {
    const rules = Object.entries(on.exceptionsByRule).map(([k, n]) => `${k} ${fmt(n)}`);
    lines.push(
      `  With MD_VEE=on the fault-free CSV left ${fmt(on.exceptions)} open exceptions` +
        (rules.length ? ` (${rules.join(', ')})` : '') +
        ': no history before its first day, and UTC days cut local days at both ends.',
    );
  }
  if (onOff?.switchHonoured === false) {
    const probe = (run: Maybe<VeeIngestRun> | undefined, name: string) =>
      run && !isError(run)
        ? `${name}: ${run.probe.rule} ${run.probe.raised ? 'raised' : 'not raised'}`
        : '';
    lines.push(
      `  WARNING: the probes say MD_VEE did not switch the rules (${[probe(onOff.off, 'off'), probe(onOff.on, 'on')].filter(Boolean).join('; ')}): the ratio is not the rules' cost.`,
    );
  }
  const a = v.acceptance && !isError(v.acceptance) ? v.acceptance : null;
  if (a) {
    lines.push(
      `VEE recall / false positives: runVeeAcceptance, ${fmt(a.meters)} meters × ${a.days} days after ` +
        `${a.historyDays} clean days, default fault rates, seed ${a.seed}: ${fmt(a.rows)} rows, ` +
        `${fmt(a.exceptions)} exceptions.`,
    );
  }
  return lines.join('\n');
}

interface DetailRow {
  label: string;
  fileBytes: number;
  readings: number;
  landingMs: number;
  processingMs: number;
  cpu: HeadendCpu;
  walBytesPerReading: number;
  rssLanding: number | null;
  rssWorkers: Array<number | null>;
}

/** Where the head-end time went: landing vs processing, CPU seconds, WAL, memory. */
function headendDetails(r: Report): string | null {
  const h = r.headend;
  const list: DetailRow[] = [];
  for (const kind of headendKinds(r)) {
    const run = headendRunOf(r, kind.format, kind.workers, kind.shape);
    if (!run) continue;
    list.push({
      label: headendKindLabel(kind),
      fileBytes: run.fileBytes,
      readings: run.readings,
      landingMs: run.landingMs,
      processingMs: run.processingMs,
      cpu: run.cpuSeconds,
      walBytesPerReading: run.walBytesPerReading,
      rssLanding: run.peakRssBytes.landing,
      rssWorkers: run.peakRssBytes.workers,
    });
  }
  const rss = h.rss;
  if (rss && !('skipped' in rss) && !isError(rss)) {
    list.push({
      label: 'csv ≥ 1 GB, 1 worker',
      fileBytes: rss.fileBytes,
      readings: rss.readings,
      landingMs: rss.landingMs,
      processingMs: rss.processingMs,
      cpu: rss.cpuSeconds,
      walBytesPerReading: rss.walBytesPerReading,
      rssLanding: rss.landingPeakRssBytes,
      rssWorkers: [rss.workerPeakRssBytes],
    });
  }
  if (!list.length) return null;
  const c = (v: number | null) => (v === null ? '—' : fmt(v, 1));
  const rows: string[][] = [
    [
      'head-end run',
      'file MB',
      'readings',
      'landing s',
      'workers s',
      'landing r/s',
      'workers r/s',
      'CPU s land node/pg',
      'CPU s work node/pg',
      'WAL B/reading',
      'peak RSS MB land/work',
    ],
  ];
  for (const d of list) {
    rows.push([
      d.label,
      mb(d.fileBytes),
      fmt(d.readings),
      sec(d.landingMs),
      sec(d.processingMs),
      fmt(d.readings / (d.landingMs / 1000)),
      fmt(d.readings / (d.processingMs / 1000)),
      `${c(d.cpu.landingProcess)} / ${c(d.cpu.landingPostgres)}`,
      `${c(d.cpu.workers)} / ${c(d.cpu.processingPostgres)}`,
      fmt(d.walBytesPerReading, 0),
      `${mb(d.rssLanding)} / ${d.rssWorkers.map(mb).join(' + ')}`,
    ]);
  }
  const proc = h.runs.find((x): x is HeadendRun => !isError(x))?.peakRssBytes.landingProcess;
  const landing =
    h.landing === 'http'
      ? `POST /ingest/files to ${proc ?? 'meterdata serve'}`
      : 'meterdata ingest <file> --format F (no --wait)';
  return (
    table(rows) +
    `\nhead-end: landing = ${landing}; workers = meterdata worker processes on Redis ${h.redis ?? '?'}; ` +
    'readings/s = readings / (landing + workers wall time); each run on a fresh database; ' +
    '"one thread each" = workers started with --parse-threads 0 (N processes bring N threads; ' +
    'by default one worker also parses in a thread of its own while the host has a core to spare); ' +
    `ratios against the median naive \\copy of the ingest rounds (${fmt(h.naiveReadingsPerSecond ?? null)} readings/s).` +
    headendRoundsNote(r) +
    (h.files?.cmep
      ? '\nCMEP carries the delivered channel only (the landing passes no CMEP unitsMap for received).'
      : '')
  );
}

/** With several rounds: which round's run each figure is, and every round's ratio. */
function headendRoundsNote(r: Report): string {
  const lines: string[] = [];
  for (const kind of headendKinds(r)) {
    const runs = headendRunsOf(r, kind.format, kind.workers, kind.shape);
    if (runs.length < 2) continue;
    const median = headendRunOf(r, kind.format, kind.workers, kind.shape);
    const all = runs.map((run) => (run === median ? `[${x(run.ratio)}]` : x(run.ratio))).join(', ');
    lines.push(`${headendKindLabel(kind)}: ${all}`);
  }
  return lines.length
    ? `\nhead-end rounds (ratio to naive \\copy per round, in run order; [the median round], whose figures are shown): ${lines.join('; ')}.`
    : '';
}

function status(t: Target | undefined): string {
  if (t?.note) return `n/a: ${t.note}`;
  if (!t || t.met === null) return 'not measured';
  return t.met ? 'met' : 'NOT MET';
}

export function writeReport(dir: string, r: Report): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `report-${r.startedAt.replace(/:/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
  return file;
}
