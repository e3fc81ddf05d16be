/** Creating API keys: the checks behind `meterdata keys create` (role, accounts), then the row. */
import { type Queryable } from '@databases/pg';
import { ErrorCode, MeterdataError } from '../errors';
import { type ApiKeyRecord, insertApiKey } from '../storage/access';
import { existingCodes } from '../storage/topology';
import { generateApiKey } from './keys';
import { isRole, ROLES } from './roles';

export interface CreatedApiKey {
  /** the key itself: shown once, never stored */
  key: string;
  record: ApiKeyRecord;
}

export async function createApiKey(
  db: Queryable,
  req: { role: string; accounts?: readonly string[]; name?: string | null },
): Promise<CreatedApiKey> {
  const bad = (message: string) => new MeterdataError(ErrorCode.BAD_USER_INPUT, message);
  if (!isRole(req.role))
    throw bad(`--role must be one of ${ROLES.join(', ')} (got ${JSON.stringify(req.role)})`);
  const accounts = [...new Set(req.accounts ?? [])];
  if (req.role === 'customer' && accounts.length === 0) {
    throw bad('a customer key needs the accounts it may see: --account CODE (repeat for several)');
  }
  if (req.role !== 'customer' && accounts.length > 0) {
    throw bad(`--account binds customer keys only; a ${req.role} key sees what its role allows`);
  }
  const known = await existingCodes(db, 'account', accounts);
  const missing = accounts.filter((a) => !known.has(a));
  if (missing.length) {
    throw new MeterdataError(
      ErrorCode.UNKNOWN_TOPOLOGY_REFERENCE,
      `no account has code ${missing.map((m) => JSON.stringify(m)).join(', ')}; import the topology first (meterdata topology import)`,
    );
  }
  const k = generateApiKey();
  const record = await insertApiKey(db, {
    name: req.name ?? null,
    role: req.role,
    accountCodes: accounts,
    prefix: k.prefix,
    sha256: k.sha256,
  });
  return { key: k.key, record };
}
