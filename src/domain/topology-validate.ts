/**
 * Validates a topology document before anything is written: required fields, vocabularies,
 * IANA time zones, numeric ranges, duplicates, and that every parent code is defined in the
 * document or already stored. Pure: the caller looks the stored codes up (see
 * `externalReferences`) and passes them in. Returns every problem, not just the first.
 */
import { IANAZone } from 'luxon';
import { ErrorCode } from '../errors';
import { CHANNELS } from './channel';
import { parseInstant } from './readings';
import { COMM_PATHS, CUSTOMER_CLASSES, METER_STATUSES, PHASES, type TopologyDoc } from './topology';

export type TopologyTable = 'substation' | 'feeder' | 'transformer' | 'account' | 'service_point';

export interface TopologyProblem {
  /** where in the document, e.g. `meters[3].servicePoint` */
  path: string;
  code: ErrorCode;
  message: string;
}

/** Codes already stored, per table (only the ones the document references need be present). */
export type ExistingCodes = Partial<Record<TopologyTable, ReadonlySet<string>>>;

const LISTS = [
  'substations',
  'feeders',
  'transformers',
  'accounts',
  'servicePoints',
  'meters',
] as const;

type Item = Record<string, unknown>;

function listOf(doc: unknown, key: (typeof LISTS)[number]): Item[] {
  const v = (doc as Record<string, unknown> | null)?.[key];
  return Array.isArray(v) ? (v as Item[]) : [];
}

function codesOf(items: readonly Item[], field = 'code'): Set<string> {
  const out = new Set<string>();
  for (const it of items) {
    const c = it?.[field];
    if (typeof c === 'string' && c !== '') out.add(c);
  }
  return out;
}

/** Parent codes the document references without defining them: look these up in the store. */
export function externalReferences(doc: TopologyDoc): Record<TopologyTable, string[]> {
  const refs = (items: readonly Item[], field: string, defined: Set<string>): string[] => [
    ...new Set(
      items
        .map((it) => it?.[field])
        .filter((c): c is string => typeof c === 'string' && c !== '' && !defined.has(c)),
    ),
  ];
  return {
    substation: refs(listOf(doc, 'feeders'), 'substation', codesOf(listOf(doc, 'substations'))),
    feeder: refs(listOf(doc, 'transformers'), 'feeder', codesOf(listOf(doc, 'feeders'))),
    transformer: refs(
      listOf(doc, 'servicePoints'),
      'transformer',
      codesOf(listOf(doc, 'transformers')),
    ),
    account: refs(listOf(doc, 'servicePoints'), 'account', codesOf(listOf(doc, 'accounts'))),
    service_point: refs(
      listOf(doc, 'meters'),
      'servicePoint',
      codesOf(listOf(doc, 'servicePoints')),
    ),
  };
}

export function validateTopology(
  doc: TopologyDoc,
  existing: ExistingCodes = {},
): TopologyProblem[] {
  const problems: TopologyProblem[] = [];
  const add = (path: string, code: ErrorCode, message: string) =>
    problems.push({ path, code, message });

  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    add(
      '',
      ErrorCode.BAD_USER_INPUT,
      `a topology document must be an object with the lists ${LISTS.join(', ')}`,
    );
    return problems;
  }
  for (const key of LISTS) {
    const v = (doc as unknown as Record<string, unknown>)[key];
    if (v !== undefined && v !== null && !Array.isArray(v)) {
      add(key, ErrorCode.BAD_USER_INPUT, `${key} must be a list`);
    }
  }

  const requiredString = (path: string, v: unknown): v is string => {
    if (typeof v === 'string' && v.trim() !== '') return true;
    add(path, ErrorCode.BAD_USER_INPUT, `${path} is required (a non-empty string)`);
    return false;
  };
  const optionalString = (path: string, v: unknown) => {
    if (v !== undefined && v !== null && typeof v !== 'string') {
      add(path, ErrorCode.BAD_USER_INPUT, `${path} must be a string or null`);
    }
  };
  const oneOf = (
    path: string,
    v: unknown,
    allowed: readonly string[],
    code = ErrorCode.BAD_USER_INPUT,
  ) => {
    if (typeof v === 'string' && allowed.includes(v)) return;
    add(path, code, `${path} is ${JSON.stringify(v)}; use one of ${allowed.join(', ')}`);
  };
  const items = (key: (typeof LISTS)[number]) =>
    listOf(doc, key).map((it, i) => {
      const path = `${key}[${i}]`;
      if (it === null || typeof it !== 'object' || Array.isArray(it)) {
        add(path, ErrorCode.BAD_USER_INPUT, `${path} must be an object`);
        return null;
      }
      return { it, path };
    });
  /** First position of each code in a list; later ones are duplicates. */
  const uniqueKey = (list: ReturnType<typeof items>, field: string) => {
    const seen = new Map<string, string>();
    for (const e of list) {
      const c = e?.it[field];
      if (!e || typeof c !== 'string' || c === '') continue;
      const first = seen.get(c);
      if (first) {
        add(
          `${e.path}.${field}`,
          ErrorCode.BAD_USER_INPUT,
          `${field} ${JSON.stringify(c)} appears twice (also at ${first}); give each once`,
        );
      } else seen.set(c, e.path);
    }
  };
  const reference = (
    path: string,
    v: unknown,
    table: TopologyTable,
    listName: (typeof LISTS)[number],
    defined: Set<string>,
  ) => {
    if (typeof v !== 'string' || v === '') return;
    if (defined.has(v) || existing[table]?.has(v)) return;
    add(
      path,
      ErrorCode.UNKNOWN_TOPOLOGY_REFERENCE,
      `${table.replace('_', ' ')} ${JSON.stringify(v)} is neither in this document nor stored; add it to ${listName} or import it first`,
    );
  };

  const substations = items('substations');
  const feeders = items('feeders');
  const transformers = items('transformers');
  const accounts = items('accounts');
  const servicePoints = items('servicePoints');
  const meters = items('meters');
  const defined = {
    substations: codesOf(listOf(doc, 'substations')),
    feeders: codesOf(listOf(doc, 'feeders')),
    transformers: codesOf(listOf(doc, 'transformers')),
    accounts: codesOf(listOf(doc, 'accounts')),
    servicePoints: codesOf(listOf(doc, 'servicePoints')),
  };

  for (const e of substations) {
    if (!e) continue;
    requiredString(`${e.path}.code`, e.it.code);
    optionalString(`${e.path}.name`, e.it.name);
  }
  uniqueKey(substations, 'code');

  for (const e of feeders) {
    if (!e) continue;
    requiredString(`${e.path}.code`, e.it.code);
    optionalString(`${e.path}.name`, e.it.name);
    if (requiredString(`${e.path}.substation`, e.it.substation)) {
      reference(
        `${e.path}.substation`,
        e.it.substation,
        'substation',
        'substations',
        defined.substations,
      );
    }
  }
  uniqueKey(feeders, 'code');

  for (const e of transformers) {
    if (!e) continue;
    requiredString(`${e.path}.code`, e.it.code);
    if (requiredString(`${e.path}.feeder`, e.it.feeder)) {
      reference(`${e.path}.feeder`, e.it.feeder, 'feeder', 'feeders', defined.feeders);
    }
    const kva = e.it.ratedKva;
    if (typeof kva !== 'number' || !Number.isFinite(kva) || kva <= 0) {
      add(
        `${e.path}.ratedKva`,
        ErrorCode.BAD_VALUE,
        `${e.path}.ratedKva must be a positive number of kVA (got ${JSON.stringify(kva)})`,
      );
    }
    oneOf(`${e.path}.phase`, e.it.phase, PHASES);
  }
  uniqueKey(transformers, 'code');

  for (const e of accounts) {
    if (!e) continue;
    requiredString(`${e.path}.code`, e.it.code);
    optionalString(`${e.path}.name`, e.it.name);
    oneOf(`${e.path}.customerClass`, e.it.customerClass, CUSTOMER_CLASSES);
  }
  uniqueKey(accounts, 'code');

  for (const e of servicePoints) {
    if (!e) continue;
    requiredString(`${e.path}.code`, e.it.code);
    requiredString(`${e.path}.premise`, e.it.premise);
    if (requiredString(`${e.path}.transformer`, e.it.transformer)) {
      reference(
        `${e.path}.transformer`,
        e.it.transformer,
        'transformer',
        'transformers',
        defined.transformers,
      );
    }
    if (e.it.account !== undefined && e.it.account !== null) {
      if (requiredString(`${e.path}.account`, e.it.account)) {
        reference(`${e.path}.account`, e.it.account, 'account', 'accounts', defined.accounts);
      }
    }
    const tz = e.it.timeZone;
    if (requiredString(`${e.path}.timeZone`, tz) && !IANAZone.isValidZone(tz)) {
      add(
        `${e.path}.timeZone`,
        ErrorCode.BAD_TIME_ZONE,
        `${JSON.stringify(tz)} is not an IANA time zone; use a name like America/New_York`,
      );
    }
  }
  uniqueKey(servicePoints, 'code');

  for (const e of meters) {
    if (!e) continue;
    const m = e.it;
    const p = (f: string) => `${e.path}.${f}`;
    requiredString(p('serial'), m.serial);
    optionalString(p('mrid'), m.mrid);
    if (requiredString(p('servicePoint'), m.servicePoint)) {
      reference(
        p('servicePoint'),
        m.servicePoint,
        'service_point',
        'servicePoints',
        defined.servicePoints,
      );
    }
    if (m.multiplier !== undefined && m.multiplier !== null) {
      if (typeof m.multiplier !== 'number' || !Number.isFinite(m.multiplier) || m.multiplier <= 0) {
        add(
          p('multiplier'),
          ErrorCode.BAD_VALUE,
          `${p('multiplier')} must be a positive number (got ${JSON.stringify(m.multiplier)})`,
        );
      }
    }
    if (m.unit !== undefined && m.unit !== null && m.unit !== 'kWh') {
      add(
        p('unit'),
        ErrorCode.BAD_UNIT,
        `${p('unit')} is ${JSON.stringify(m.unit)}; interval data is stored in kWh (omit it or give "kWh")`,
      );
    }
    if (m.intervalSeconds !== undefined && m.intervalSeconds !== null) {
      const s = m.intervalSeconds;
      if (typeof s !== 'number' || !Number.isInteger(s) || s < 60 || 86400 % s !== 0) {
        add(
          p('intervalSeconds'),
          ErrorCode.BAD_USER_INPUT,
          `${p('intervalSeconds')} is ${JSON.stringify(s)}; use a whole number of seconds ≥ 60 that divides 86400 (e.g. 300, 900, 3600)`,
        );
      }
    }
    if (m.channels !== undefined && m.channels !== null) {
      const ch = m.channels;
      if (!Array.isArray(ch) || ch.length === 0) {
        add(
          p('channels'),
          ErrorCode.BAD_USER_INPUT,
          `${p('channels')} must be a non-empty list of ${CHANNELS.join(', ')}`,
        );
      } else {
        ch.forEach((c: unknown, k: number) => {
          if (typeof c !== 'string' || !(CHANNELS as readonly string[]).includes(c)) {
            add(
              `${p('channels')}[${k}]`,
              ErrorCode.UNKNOWN_CHANNEL,
              `channel ${JSON.stringify(c)} is not one of ${CHANNELS.join(', ')}`,
            );
          } else if (ch.indexOf(c) !== k) {
            add(`${p('channels')}[${k}]`, ErrorCode.BAD_USER_INPUT, `channel ${c} is listed twice`);
          }
        });
      }
    }
    const instant = (f: 'installedAt' | 'removedAt'): number | undefined => {
      const v = m[f];
      const ms = typeof v === 'string' ? parseInstant(v) : undefined;
      if (ms === undefined) {
        add(
          p(f),
          ErrorCode.BAD_TIMESTAMP,
          `${p(f)} is ${JSON.stringify(v)}; use an ISO 8601 instant with an offset, e.g. 2024-01-01T00:00:00Z`,
        );
      }
      return ms;
    };
    let installed: number | undefined;
    if (m.installedAt === undefined || m.installedAt === null) {
      add(
        p('installedAt'),
        ErrorCode.BAD_USER_INPUT,
        `${p('installedAt')} is required (an ISO 8601 instant)`,
      );
    } else installed = instant('installedAt');
    if (m.removedAt !== undefined && m.removedAt !== null) {
      const removed = instant('removedAt');
      if (installed !== undefined && removed !== undefined && removed <= installed) {
        add(
          p('removedAt'),
          ErrorCode.INVALID_RANGE,
          `${p('removedAt')} (${String(m.removedAt)}) must be after installedAt (${String(m.installedAt)})`,
        );
      }
    }
    if (m.status !== undefined && m.status !== null) oneOf(p('status'), m.status, METER_STATUSES);
    oneOf(p('commPath'), m.commPath, COMM_PATHS);
  }
  uniqueKey(meters, 'serial');
  uniqueKey(meters, 'mrid');

  return problems;
}
