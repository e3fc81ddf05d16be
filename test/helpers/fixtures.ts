/** A small hand-written topology for storage and API tests. */
import { type TopologyDoc } from '../../src/domain/topology';

export function smallTopology(): TopologyDoc {
  return {
    substations: [{ code: 'SUB-1', name: 'North' }],
    feeders: [{ code: 'FDR-1', substation: 'SUB-1', name: 'North 1' }],
    transformers: [
      { code: 'TX-1', feeder: 'FDR-1', ratedKva: 50, phase: 'A' },
      { code: 'TX-2', feeder: 'FDR-1', ratedKva: 75, phase: 'B' },
    ],
    accounts: [
      { code: 'ACC-1', name: 'One', customerClass: 'RESIDENTIAL' },
      { code: 'ACC-2', name: 'Two', customerClass: 'COMMERCIAL' },
    ],
    servicePoints: [
      {
        code: 'SP-1',
        transformer: 'TX-1',
        premise: '1 Main St',
        account: 'ACC-1',
        timeZone: 'America/New_York',
      },
      {
        code: 'SP-2',
        transformer: 'TX-1',
        premise: '3 Main St',
        account: 'ACC-1',
        timeZone: 'America/New_York',
      },
      {
        code: 'SP-3',
        transformer: 'TX-2',
        premise: '9 Elm St',
        account: 'ACC-2',
        timeZone: 'Europe/Berlin',
      },
    ],
    meters: [
      {
        serial: 'M-1',
        mrid: 'mrid-1',
        servicePoint: 'SP-1',
        intervalSeconds: 900,
        channels: ['delivered', 'received'],
        installedAt: '2020-01-01T00:00:00Z',
        commPath: 'RF_MESH',
      },
      {
        serial: 'M-2',
        servicePoint: 'SP-2',
        intervalSeconds: 900,
        installedAt: '2020-01-01T00:00:00Z',
        commPath: 'PLC',
      },
      {
        serial: 'M-3',
        servicePoint: 'SP-3',
        intervalSeconds: 3600,
        installedAt: '2024-06-01T00:00:00Z',
        removedAt: '2026-06-01T00:00:00Z',
        status: 'REMOVED',
        commPath: 'CELLULAR',
      },
    ],
  };
}
