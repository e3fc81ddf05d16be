/** The public entry: what other programs (the CLI, the benchmark, embedders) may use. */
import 'reflect-metadata';

export { ErrorCode, MeterdataError, isMeterdataError } from './errors';
export { loadConfig, type Config } from './config';
export { openRuntime, type Runtime } from './runtime';
export { startServer, createGateway, type ServerHandle, type Gateway } from './server';
export { buildMeterdataSchema } from './schema';
export { printMeterdataSchema } from './schema/print';
export { createContext, type Context } from './context';
export { ingestItems, type IngestResult } from './ingest/readings';
export { importTopology, checkTopology, type TopologyCounts } from './ingest/topology';
export { validateTopology, type TopologyProblem } from './domain/topology-validate';
export { type TopologyDoc } from './domain/topology';
export {
  ANONYMOUS,
  internalIdentity,
  type Identity,
  ROLES,
  type Role,
  assertAuthConfigured,
  developmentToken,
  developmentNotice,
  createApiKey,
} from './auth';
