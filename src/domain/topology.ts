/**
 * The topology document: the shape a utility's GIS / customer system export is mapped to
 * (substation → feeder → transformer → service point → meter, plus customer accounts).
 * Pure types and validation only; storage/topology.ts persists it.
 */

export const COMM_PATHS = ['RF_MESH', 'PLC', 'CELLULAR'] as const;
export type CommPath = (typeof COMM_PATHS)[number];

export const METER_STATUSES = ['ACTIVE', 'INACTIVE', 'REMOVED'] as const;
export type MeterStatus = (typeof METER_STATUSES)[number];

export const CUSTOMER_CLASSES = ['RESIDENTIAL', 'COMMERCIAL', 'INDUSTRIAL'] as const;
export type CustomerClass = (typeof CUSTOMER_CLASSES)[number];

export const PHASES = ['A', 'B', 'C', 'ABC'] as const;
export type Phase = (typeof PHASES)[number];

export interface SubstationDoc {
  code: string;
  name?: string | null;
}
export interface FeederDoc {
  code: string;
  substation: string;
  name?: string | null;
}
export interface TransformerDoc {
  code: string;
  feeder: string;
  ratedKva: number;
  phase: Phase;
}
export interface AccountDoc {
  code: string;
  name?: string | null;
  customerClass: CustomerClass;
}
export interface ServicePointDoc {
  code: string;
  transformer: string;
  premise: string;
  account?: string | null;
  /** IANA time zone, e.g. America/New_York */
  timeZone: string;
}
export interface MeterDoc {
  serial: string;
  mrid?: string | null;
  servicePoint: string;
  multiplier?: number;
  /** unit of the energy channels as stored: kWh */
  unit?: 'kWh';
  intervalSeconds?: number;
  /** channel names: delivered, received */
  channels?: Array<'delivered' | 'received'>;
  /** ISO 8601 instant */
  installedAt: string;
  removedAt?: string | null;
  status?: MeterStatus;
  commPath: CommPath;
}
export interface TopologyDoc {
  substations: SubstationDoc[];
  feeders: FeederDoc[];
  transformers: TransformerDoc[];
  accounts: AccountDoc[];
  servicePoints: ServicePointDoc[];
  meters: MeterDoc[];
}
