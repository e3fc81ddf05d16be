/**
 * Imports a topology document (CLI `meterdata topology import`, the upsertTopology mutation):
 * validates it whole — parents may be in the document or already stored — and upserts it in
 * one transaction. An invalid document writes nothing and reports every problem.
 */
import { type ConnectionPool } from '@databases/pg';
import { type TopologyDoc } from '../domain/topology';
import {
  externalReferences,
  type ExistingCodes,
  type TopologyProblem,
  type TopologyTable,
  validateTopology,
} from '../domain/topology-validate';
import { ErrorCode, MeterdataError, SqlState, sqlStateOf } from '../errors';
import { existingCodes, upsertTopology, type TopologyCounts } from '../storage/topology';

export type { TopologyCounts };

const TABLES: readonly TopologyTable[] = [
  'substation',
  'feeder',
  'transformer',
  'account',
  'service_point',
];

/** Problems listed in an error message before "… and N more". */
const LISTED_IN_MESSAGE = 3;

export async function importTopology(
  pool: ConnectionPool,
  doc: TopologyDoc,
): Promise<TopologyCounts> {
  const problems = await checkTopology(pool, doc);
  if (problems.length) throw topologyError(problems);
  const normalized: TopologyDoc = {
    substations: doc.substations ?? [],
    feeders: doc.feeders ?? [],
    transformers: doc.transformers ?? [],
    accounts: doc.accounts ?? [],
    servicePoints: doc.servicePoints ?? [],
    meters: doc.meters ?? [],
  };
  try {
    return await upsertTopology(pool, normalized);
  } catch (err) {
    // The only uniqueness the document cannot check on its own: a meter's mrid held by
    // another stored meter.
    if (sqlStateOf(err) === SqlState.UNIQUE_VIOLATION) {
      throw new MeterdataError(
        ErrorCode.BAD_USER_INPUT,
        'a meter mrid in the document is already used by another stored meter; give each meter its own mrid (nothing was written)',
        { cause: err },
      );
    }
    throw err;
  }
}

/** Validates against the store without writing: every problem, empty when the document is fine. */
export async function checkTopology(
  pool: ConnectionPool,
  doc: TopologyDoc,
): Promise<TopologyProblem[]> {
  const shape = validateTopology(doc);
  // Only reference problems can be resolved by what is stored; skip the look-ups otherwise.
  if (!shape.some((p) => p.code === ErrorCode.UNKNOWN_TOPOLOGY_REFERENCE)) return shape;
  const refs = externalReferences(doc);
  const existing: ExistingCodes = {};
  await Promise.all(
    TABLES.filter((t) => refs[t].length > 0).map(async (t) => {
      existing[t] = await existingCodes(pool, t, refs[t]);
    }),
  );
  return validateTopology(doc, existing);
}

function topologyError(problems: readonly TopologyProblem[]): MeterdataError {
  const onlyReferences = problems.every((p) => p.code === ErrorCode.UNKNOWN_TOPOLOGY_REFERENCE);
  const listed = problems
    .slice(0, LISTED_IN_MESSAGE)
    .map((p) => `${p.path}: ${p.message}`)
    .join('; ');
  const more =
    problems.length > LISTED_IN_MESSAGE
      ? `; … and ${problems.length - LISTED_IN_MESSAGE} more`
      : '';
  return new MeterdataError(
    onlyReferences ? ErrorCode.UNKNOWN_TOPOLOGY_REFERENCE : ErrorCode.BAD_USER_INPUT,
    `the topology document has ${problems.length} problem${problems.length === 1 ? '' : 's'} and nothing was written: ${listed}${more}`,
    { details: { problems: problems.map((p) => ({ ...p })) } },
  );
}
