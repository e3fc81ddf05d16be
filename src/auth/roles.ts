/**
 * The roles and the one table of who may do what. The resolvers' @Authorized decorators, the
 * upload route and the WebSocket server all read `Allow`, so the matrix in README "Security"
 * and the code cannot drift apart.
 */
export const ROLES = ['customer', 'billing', 'planner', 'operator', 'headend', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(s: unknown): s is Role {
  return typeof s === 'string' && (ROLES as readonly string[]).includes(s);
}

export const Allow = {
  /** the caller's own identity (`viewer`) */
  viewer: ROLES,
  /** topology nodes and meters; a customer sees only the part holding their own meters */
  topology: ['customer', 'billing', 'planner', 'operator', 'admin'],
  /** customer accounts (names); a customer sees only their own */
  accounts: ['customer', 'billing', 'operator', 'admin'],
  /** an individual meter's readings, usage and history; a customer only for their own meters */
  meterReadings: ['customer', 'billing', 'operator', 'admin'],
  /** aggregates over meters; planners and customers get totals under the privacy rule */
  aggregates: ['customer', 'billing', 'planner', 'operator', 'admin'],
  /** ingestReadings, POST /ingest/files */
  ingest: ['headend', 'operator', 'admin'],
  /** landed files, their rejections, saved CSV profiles */
  files: ['headend', 'operator', 'admin'],
  /** the readingsIngested subscription */
  ingestEvents: ['headend', 'operator', 'admin'],
  /** upsertTopology, saveCsvProfile */
  manage: ['operator', 'admin'],
} as const satisfies Record<string, readonly Role[]>;

/** Roles that see every meter, and individual meters inside aggregates. */
export const PRIVILEGED_ROLES: readonly Role[] = ['billing', 'operator', 'admin'];

/** Roles that see the whole topology (not only a customer's part of it). */
export const TOPOLOGY_WIDE_ROLES: readonly Role[] = ['billing', 'planner', 'operator', 'admin'];
