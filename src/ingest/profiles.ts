/**
 * CSV mapping profiles by name: the built-in ones (formats/profiles/) and those saved in the
 * database through the API. Every profile is validated before any file is read with it.
 */
import { type ConnectionPool } from '@databases/pg';
import { ErrorCode, MeterdataError } from '../errors';
import {
  BUILTIN_PROFILES,
  type ResolvedCsvProfile,
  validateCsvProfile,
} from './formats/csv-profile';
import { loadProfile, saveProfile } from '../storage/landing';

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export async function resolveProfile(
  pool: ConnectionPool,
  name: string | undefined,
): Promise<ResolvedCsvProfile | undefined> {
  if (name === undefined) return undefined;
  const builtin = BUILTIN_PROFILES[name];
  if (builtin) return builtin;
  const stored = NAME_RE.test(name) ? await loadProfile(pool, name) : null;
  if (stored === null) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      `unknown CSV profile ${JSON.stringify(name)}: use a built-in one (${Object.keys(BUILTIN_PROFILES).join(', ')}) or save it first (saveCsvProfile)`,
    );
  }
  return validateCsvProfile(stored, `profile ${name}`);
}

/** Validates and saves a named profile; built-in names cannot be replaced. */
export async function storeProfile(
  pool: ConnectionPool,
  name: string,
  profile: unknown,
): Promise<ResolvedCsvProfile> {
  if (!NAME_RE.test(name)) {
    throw new MeterdataError(
      ErrorCode.BAD_USER_INPUT,
      'a profile name is 1-64 letters, digits, dots, dashes or underscores',
    );
  }
  if (BUILTIN_PROFILES[name]) {
    throw new MeterdataError(ErrorCode.BAD_USER_INPUT, `${name} is a built-in profile`);
  }
  const resolved = validateCsvProfile(profile, `profile ${name}`);
  await saveProfile(pool, name, profile);
  return resolved;
}
