import { type MeterDoc, type TopologyDoc } from '../../src/domain/topology';
import { externalReferences, validateTopology } from '../../src/domain/topology-validate';
import { smallTopology } from '../helpers/fixtures';

const empty = (): TopologyDoc => ({
  substations: [],
  feeders: [],
  transformers: [],
  accounts: [],
  servicePoints: [],
  meters: [],
});

const meter: MeterDoc = {
  serial: 'M-9',
  servicePoint: 'SP-1',
  installedAt: '2024-01-01T00:00:00Z',
  commPath: 'PLC',
};
const sp = { code: 'SP-9', transformer: 'TX-1', premise: 'x', timeZone: 'UTC' };
const existing = {
  substation: new Set(['SUB-1']),
  feeder: new Set(['FDR-1']),
  transformer: new Set(['TX-1']),
  account: new Set(['ACC-1']),
  service_point: new Set(['SP-1']),
};

test('the fixture topology is valid on its own', () => {
  expect(validateTopology(smallTopology())).toEqual([]);
});

test.each<[string, Partial<TopologyDoc> | Record<string, unknown>, Array<[string, string]>]>([
  ['missing code', { substations: [{ name: 'x' }] }, [['substations[0].code', 'BAD_USER_INPUT']]],
  [
    'duplicate code',
    { substations: [{ code: 'S' }, { code: 'S' }] },
    [['substations[1].code', 'BAD_USER_INPUT']],
  ],
  [
    'unknown feeder parent',
    { transformers: [{ code: 'T', feeder: 'F-404', ratedKva: 10, phase: 'A' }] },
    [['transformers[0].feeder', 'UNKNOWN_TOPOLOGY_REFERENCE']],
  ],
  [
    'parent defined in the same document',
    {
      feeders: [{ code: 'F-2', substation: 'SUB-1' }],
      transformers: [{ code: 'T', feeder: 'F-2', ratedKva: 10, phase: 'ABC' }],
    },
    [],
  ],
  [
    'rating and phase',
    { transformers: [{ code: 'T', feeder: 'FDR-1', ratedKva: 0, phase: 'D' }] },
    [
      ['transformers[0].ratedKva', 'BAD_VALUE'],
      ['transformers[0].phase', 'BAD_USER_INPUT'],
    ],
  ],
  [
    'customer class',
    { accounts: [{ code: 'A', customerClass: 'ALIEN' }] },
    [['accounts[0].customerClass', 'BAD_USER_INPUT']],
  ],
  [
    'IANA zone',
    { servicePoints: [{ ...sp, timeZone: 'EST5EDT-ish' }] },
    [['servicePoints[0].timeZone', 'BAD_TIME_ZONE']],
  ],
  [
    'unknown account',
    { servicePoints: [{ ...sp, account: 'ACC-404' }] },
    [['servicePoints[0].account', 'UNKNOWN_TOPOLOGY_REFERENCE']],
  ],
  ['a valid meter', { meters: [meter] }, []],
  [
    'interval length',
    {
      meters: [
        { ...meter, intervalSeconds: 30 },
        { ...meter, serial: 'M-10', intervalSeconds: 7200 * 5 },
      ],
    },
    [
      ['meters[0].intervalSeconds', 'BAD_USER_INPUT'],
      ['meters[1].intervalSeconds', 'BAD_USER_INPUT'],
    ],
  ],
  [
    'channels',
    { meters: [{ ...meter, channels: ['delivered', 'sideways', 'delivered'] }] },
    [
      ['meters[0].channels[1]', 'UNKNOWN_CHANNEL'],
      ['meters[0].channels[2]', 'BAD_USER_INPUT'],
    ],
  ],
  [
    'no channels',
    { meters: [{ ...meter, channels: [] }] },
    [['meters[0].channels', 'BAD_USER_INPUT']],
  ],
  [
    'installation period',
    { meters: [{ ...meter, removedAt: '2023-12-31T00:00:00Z' }] },
    [['meters[0].removedAt', 'INVALID_RANGE']],
  ],
  [
    'timestamps need an offset',
    { meters: [{ ...meter, installedAt: '2024-01-01T00:00:00' }] },
    [['meters[0].installedAt', 'BAD_TIMESTAMP']],
  ],
  [
    'required installedAt and commPath, unit, multiplier, status',
    {
      meters: [{ serial: 'M-9', servicePoint: 'SP-1', unit: 'Wh', multiplier: -1, status: 'GONE' }],
    },
    [
      ['meters[0].multiplier', 'BAD_VALUE'],
      ['meters[0].unit', 'BAD_UNIT'],
      ['meters[0].installedAt', 'BAD_USER_INPUT'],
      ['meters[0].status', 'BAD_USER_INPUT'],
      ['meters[0].commPath', 'BAD_USER_INPUT'],
    ],
  ],
  [
    'duplicate serials and mrids',
    {
      meters: [
        { ...meter, mrid: 'x' },
        { ...meter, mrid: 'x' },
      ],
    },
    [
      ['meters[1].serial', 'BAD_USER_INPUT'],
      ['meters[1].mrid', 'BAD_USER_INPUT'],
    ],
  ],
  ['a list that is not a list', { meters: 'M-1' }, [['meters', 'BAD_USER_INPUT']]],
])('%s', (_name, patch, expected) => {
  const doc = { ...empty(), ...patch } as TopologyDoc;
  const problems = validateTopology(doc, existing);
  expect(problems.map((p) => [p.path, p.code])).toEqual(expected);
  for (const p of problems) expect(p.message.length).toBeGreaterThan(10);
});

test('external references: parents the document uses but does not define', () => {
  const doc: TopologyDoc = {
    ...empty(),
    feeders: [{ code: 'F-2', substation: 'SUB-1' }],
    transformers: [
      { code: 'T-2', feeder: 'F-2', ratedKva: 1, phase: 'A' },
      { code: 'T-3', feeder: 'FDR-1', ratedKva: 1, phase: 'A' },
    ],
    servicePoints: [{ ...sp, transformer: 'T-2', account: 'ACC-1' }],
    meters: [meter, { ...meter, serial: 'M-10' }],
  };
  expect(externalReferences(doc)).toEqual({
    substation: ['SUB-1'],
    feeder: ['FDR-1'],
    transformer: [],
    account: ['ACC-1'],
    service_point: ['SP-1'],
  });
  expect(validateTopology(doc).map((p) => p.path)).toEqual([
    'feeders[0].substation',
    'transformers[1].feeder',
    'servicePoints[0].account',
    'meters[0].servicePoint',
    'meters[1].servicePoint',
  ]);
  expect(validateTopology(doc, existing)).toEqual([]);
});
