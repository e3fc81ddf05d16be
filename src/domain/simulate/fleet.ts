/**
 * Synthetic fleet topology: substations → feeders → transformers → service points → meters, plus
 * customer accounts, and the per-meter load profile the readings are generated from.
 *
 * Determinism: a meter's customer class, PV/EV flags and load parameters come from the stream
 * (seed, meter index), so meter #i is the same customer whatever the fleet size; the grouping of
 * meters onto transformers, ratings, time zones and comm paths come from one sequential
 * topology stream (seed, 'topology').
 */
import type {
  AccountDoc,
  CommPath,
  CustomerClass,
  FeederDoc,
  MeterDoc,
  Phase,
  ServicePointDoc,
  SubstationDoc,
  TopologyDoc,
  TransformerDoc,
} from '../topology';
import {
  drawCommercialParams,
  drawResidentialParams,
  formatUtc,
  peakDemandKw,
  type LoadParams,
} from './load';
import { deterministicUuid, Rng } from './random';

export type Channel = 'delivered' | 'received';

export interface FleetMix {
  /** share of meters that are commercial customers (default 0.1) */
  commercialShare: number;
  /** share of residential meters with rooftop PV (default 0.1) */
  pvShare: number;
  /** share of residential meters with EV charging (default 0.08) */
  evShare: number;
  /** meters per substation (default 2000) */
  metersPerSubstation: number;
  /** feeders per substation (default 4) */
  feedersPerSubstation: number;
}

export const DEFAULT_FLEET_MIX: FleetMix = {
  commercialShare: 0.1,
  pvShare: 0.1,
  evShare: 0.08,
  metersPerSubstation: 2000,
  feedersPerSubstation: 4,
};

export interface FleetOptions {
  meters: number;
  seed: number;
  /** epoch ms (UTC) of the first interval; every meter is installed before it */
  start: number;
  intervalSeconds: number;
  mix?: Partial<FleetMix>;
}

export interface MeterProfile {
  index: number;
  serial: string;
  servicePoint: string;
  transformer: string;
  transformerIndex: number;
  timeZone: string;
  customerClass: Extract<CustomerClass, 'RESIDENTIAL' | 'COMMERCIAL'>;
  channels: Channel[];
  /**
   * CT multiplier recorded on the meter. Generated values are always engineering kWh, i.e.
   * already multiplied (what a head-end reports after applying the multiplier).
   */
  multiplier: number;
  hasPv: boolean;
  hasEv: boolean;
  load: LoadParams;
}

export interface TransformerGroup {
  index: number;
  code: string;
  feeder: string;
  timeZone: string;
  meterIndexes: number[];
}

export interface Fleet {
  topology: TopologyDoc;
  /** index-aligned with topology.meters */
  meters: MeterProfile[];
  transformers: TransformerGroup[];
}

export const TIME_ZONES: ReadonlyArray<readonly [string, number]> = [
  ['America/New_York', 0.8],
  ['America/Chicago', 0.12],
  ['America/Los_Angeles', 0.08],
];

const COMM_PATH_WEIGHTS: ReadonlyArray<readonly [CommPath, number]> = [
  ['RF_MESH', 0.8],
  ['PLC', 0.12],
  ['CELLULAR', 0.08],
];

const RESIDENTIAL_KVA = [25, 50, 75, 100] as const;
const COMMERCIAL_KVA = [150, 225, 300, 500] as const;

const SUBSTATION_NAMES = [
  'Riverside',
  'Oak Hill',
  'Maple Grove',
  'Cedar Point',
  'Lakeview',
  'Northgate',
  'Fairview',
  'Brookside',
  'Pine Ridge',
  'Willow Creek',
  'Stonebridge',
  'Elm Park',
];

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export function meterSerial(index: number): string {
  return 'MD' + pad(index + 1, 8);
}

/** The per-meter (customer) attributes that depend only on (seed, index). */
export function drawCustomer(
  seed: number,
  index: number,
  mix: FleetMix,
): Pick<MeterProfile, 'customerClass' | 'hasPv' | 'hasEv' | 'load' | 'multiplier'> {
  const rng = Rng.derive(seed, 'customer', index);
  const commercial = rng.chance(mix.commercialShare);
  if (commercial) {
    const multiplier = rng.chance(0.4) ? rng.pick([20, 40, 40, 80]) : 1;
    return {
      customerClass: 'COMMERCIAL',
      hasPv: false,
      hasEv: false,
      load: drawCommercialParams(rng),
      multiplier,
    };
  }
  const hasPv = rng.chance(mix.pvShare);
  const hasEv = rng.chance(mix.evShare);
  return {
    customerClass: 'RESIDENTIAL',
    hasPv,
    hasEv,
    load: drawResidentialParams(rng, hasPv, hasEv),
    multiplier: 1,
  };
}

function smallestRating(ratings: readonly number[], kva: number): number {
  for (const r of ratings) if (r >= kva) return r;
  return ratings[ratings.length - 1] as number;
}

export function generateFleet(opts: FleetOptions): Fleet {
  const { meters: meterCount, seed, start, intervalSeconds } = opts;
  if (!Number.isInteger(meterCount) || meterCount < 1) {
    throw new Error(`meters must be a positive integer, got ${meterCount}`);
  }
  const mix: FleetMix = { ...DEFAULT_FLEET_MIX, ...opts.mix };
  const rng = Rng.derive(seed, 'topology');

  const customers = Array.from({ length: meterCount }, (_, i) => drawCustomer(seed, i, mix));

  // ---- group meters onto transformers (residential 4–12 each, commercial on their own)
  interface Group {
    meterIndexes: number[];
    commercial: boolean;
  }
  const groups: Group[] = [];
  let open: Group | null = null;
  let target = 0;
  for (let i = 0; i < meterCount; i++) {
    const c = customers[i];
    if (c.customerClass === 'COMMERCIAL') {
      groups.push({ meterIndexes: [i], commercial: true });
      continue;
    }
    if (!open || open.meterIndexes.length >= target) {
      open = { meterIndexes: [], commercial: false };
      groups.push(open);
      target = rng.int(4, 12);
    }
    open.meterIndexes.push(i);
  }

  // ---- substations and feeders
  const substationCount = Math.max(1, Math.round(meterCount / mix.metersPerSubstation));
  const substations: SubstationDoc[] = [];
  const feeders: FeederDoc[] = [];
  for (let s = 0; s < substationCount; s++) {
    const code = 'SUB' + pad(s + 1, 3);
    const base = SUBSTATION_NAMES[s % SUBSTATION_NAMES.length] as string;
    const round = Math.floor(s / SUBSTATION_NAMES.length);
    substations.push({ code, name: round ? `${base} ${round + 1}` : base });
    for (let f = 0; f < mix.feedersPerSubstation; f++) {
      feeders.push({
        code: `${code}-F${pad(f + 1, 2)}`,
        substation: code,
        name: `Feeder ${f + 1}`,
      });
    }
  }

  // ---- transformers, service points, accounts, meters
  const transformers: TransformerDoc[] = [];
  const transformerGroups: TransformerGroup[] = [];
  const servicePoints: ServicePointDoc[] = new Array<ServicePointDoc>(meterCount);
  const accounts: AccountDoc[] = new Array<AccountDoc>(meterCount);
  const meterDocs: MeterDoc[] = new Array<MeterDoc>(meterCount);
  const profiles: MeterProfile[] = new Array<MeterProfile>(meterCount);
  const phaseRotation: Phase[] = ['A', 'B', 'C'];

  groups.forEach((group, t) => {
    const feeder = feeders[Math.floor((t * feeders.length) / groups.length)] as FeederDoc;
    const code = 'TX' + pad(t + 1, 6);
    const timeZone = rng.weighted(TIME_ZONES);
    const demandKw = group.meterIndexes.reduce(
      (sum, i) => sum + peakDemandKw(customers[i].load),
      0,
    );
    const ratedKva = group.commercial
      ? smallestRating(COMMERCIAL_KVA, demandKw * rng.range(2, 3.5))
      : smallestRating(RESIDENTIAL_KVA, demandKw * 0.85);
    const phase: Phase = group.commercial ? 'ABC' : (phaseRotation[t % 3] as Phase);
    transformers.push({ code, feeder: feeder.code, ratedKva, phase });
    transformerGroups.push({
      index: t,
      code,
      feeder: feeder.code,
      timeZone,
      meterIndexes: group.meterIndexes,
    });

    for (const i of group.meterIndexes) {
      const c = customers[i];
      const n = pad(i + 1, 8);
      const serial = meterSerial(i);
      const sp = 'SP' + n;
      const account = 'AC' + n;
      accounts[i] = { code: account, customerClass: c.customerClass };
      servicePoints[i] = {
        code: sp,
        transformer: code,
        premise: 'PR' + n,
        account,
        timeZone,
      };
      const channels: Channel[] = c.hasPv ? ['delivered', 'received'] : ['delivered'];
      const installedAt = start - rng.int(30, 2500) * 86_400_000 - rng.int(0, 86_399) * 1000;
      meterDocs[i] = {
        serial,
        mrid: deterministicUuid(seed, 'meter', i),
        servicePoint: sp,
        multiplier: c.multiplier,
        unit: 'kWh',
        intervalSeconds,
        channels,
        installedAt: formatUtc(installedAt),
        removedAt: null,
        status: 'ACTIVE',
        commPath: rng.weighted(COMM_PATH_WEIGHTS),
      };
      profiles[i] = {
        index: i,
        serial,
        servicePoint: sp,
        transformer: code,
        transformerIndex: t,
        timeZone,
        channels,
        ...c,
      };
    }
  });

  return {
    topology: {
      substations,
      feeders,
      transformers,
      accounts,
      servicePoints,
      meters: meterDocs,
    },
    meters: profiles,
    transformers: transformerGroups,
  };
}
