/** Channels, units and quality codes: the small vocabularies every layer shares. */

export const CHANNELS = ['delivered', 'received'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Storage codes (reading_day.channel). */
export function channelCode(channel: Channel): 1 | 2 {
  switch (channel) {
    case 'delivered':
      return 1;
    case 'received':
      return 2;
    default: {
      const never: never = channel;
      throw new Error(`unknown channel ${String(never)}`);
    }
  }
}

export function channelFromCode(code: number): Channel {
  if (code === 1) return 'delivered';
  if (code === 2) return 'received';
  throw new Error(`unknown channel code ${code}`);
}

export function parseChannel(raw: string): Channel | undefined {
  // The canonical spellings first: the write path asks this for every reading.
  if (raw === 'delivered' || raw === 'received') return raw;
  const s = raw.trim().toLowerCase();
  return (CHANNELS as readonly string[]).includes(s) ? (s as Channel) : undefined;
}

/** Energy units accepted on input; everything is stored in kWh. */
export const ENERGY_UNITS = ['Wh', 'kWh', 'MWh'] as const;
export type EnergyUnit = (typeof ENERGY_UNITS)[number];

export function parseEnergyUnit(raw: string): EnergyUnit | undefined {
  if (raw === 'kWh' || raw === 'Wh' || raw === 'MWh') return raw;
  const s = raw.trim();
  // Accept the usual capitalisations (KWH, kwh) but never guess between W and Wh.
  switch (s.toLowerCase()) {
    case 'wh':
      return 'Wh';
    case 'kwh':
      return 'kWh';
    case 'mwh':
      return 'MWh';
    default:
      return undefined;
  }
}

export function toKwhFactor(unit: EnergyUnit): number {
  switch (unit) {
    case 'Wh':
      return 0.001;
    case 'kWh':
      return 1;
    case 'MWh':
      return 1000;
    default: {
      const never: never = unit;
      throw new Error(`unknown unit ${String(never)}`);
    }
  }
}

/**
 * ESPI QualityOfReading codes (NAESB REQ.21). Stored one byte per interval; 255 marks an
 * interval with no reading and is never shown to clients.
 */
export enum Quality {
  VALID = 0,
  MANUALLY_EDITED = 7,
  ESTIMATED_HISTORY = 8,
  ESTIMATED_INTERPOLATION = 9,
  FAILED_VALIDATION = 10,
  CALCULATED = 11,
  FORECAST = 12,
  MIXED = 13,
  NOT_YET_VALIDATED = 14,
  WEATHER_ADJUSTED = 15,
  VALIDATED_PER_PROCEDURE = 17,
  FAILED_VALIDATION_ACTUAL = 18,
  BILLING_VALID = 19,
}
export const MISSING_QUALITY = 255;

const QUALITY_CODES = new Set<number>(
  Object.values(Quality).filter((v): v is number => typeof v === 'number'),
);

export function isQualityCode(n: number): n is Quality {
  return QUALITY_CODES.has(n);
}

/** Estimated or otherwise substituted (not an actual meter read). */
export function isSubstitute(q: number): boolean {
  return (
    q === Quality.ESTIMATED_HISTORY ||
    q === Quality.ESTIMATED_INTERPOLATION ||
    q === Quality.FORECAST ||
    q === Quality.WEATHER_ADJUSTED ||
    q === Quality.CALCULATED
  );
}
