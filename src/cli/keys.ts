/**
 * `meterdata keys create|list|revoke`: API keys for systems. A key is printed once, on stdout
 * alone (so `KEY=$(meterdata keys create --role headend)` works); only its SHA-256 is stored.
 * A revoked key is refused from the next request on.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { createApiKey } from '../auth/api-keys';
import { isRole, ROLES } from '../auth/roles';
import { ErrorCode, MeterdataError } from '../errors';
import { apiKeyById, type ApiKeyRecord, listApiKeys, revokeApiKey } from '../storage/access';
import { type CliIo, withRuntime, writeLine } from './io';

function role(v: string): string {
  if (!isRole(v)) throw new InvalidArgumentError(`expected one of ${ROLES.join(', ')}`);
  return v;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function keyId(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError('expected a key id (a positive integer)');
  return n;
}

function json(k: ApiKeyRecord) {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    accounts: k.accountCodes,
    prefix: k.prefix,
    createdAt: k.createdAt.toISOString(),
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
  };
}

export function registerKeys(program: Command, io: CliIo): void {
  const keys = program
    .command('keys')
    .description(
      'API keys for systems (head-ends, billing, planning tools, portals): create, list, revoke',
    );

  keys
    .command('create')
    .description('create a key and print it once (only its SHA-256 is kept)')
    .requiredOption('--role <role>', `what the key may do: ${ROLES.join(', ')}`, role)
    .option(
      '--account <code>',
      'an account a customer key may see (repeat for several)',
      collect,
      [],
    )
    .option('--name <name>', 'what the key is for (shown by keys list)')
    .option('--json', 'print the key and its details as JSON')
    .action(async (o: { role: string; account: string[]; name?: string; json?: boolean }) => {
      await withRuntime(io, async (rt) => {
        const { key, record } = await createApiKey(rt.db.pool, {
          role: o.role,
          accounts: o.account,
          name: o.name ?? null,
        });
        if (o.json) {
          writeLine(io.stdout, JSON.stringify({ key, ...json(record) }));
          return;
        }
        writeLine(io.stdout, key);
        writeLine(
          io.stderr,
          `created API key ${record.id} (role ${record.role}${record.accountCodes.length ? `, accounts ${record.accountCodes.join(', ')}` : ''}${record.name ? `, "${record.name}"` : ''}). ` +
            'It is shown only now: keep it in the system’s secret store. Send it as `Authorization: ApiKey <key>` or `x-api-key: <key>`; revoke it with `meterdata keys revoke ' +
            `${record.id}\`.`,
        );
      });
    });

  keys
    .command('list')
    .description('list the keys (never the keys themselves)')
    .option('--json', 'one JSON object per line')
    .action(async (o: { json?: boolean }) => {
      await withRuntime(io, async (rt) => {
        const all = await listApiKeys(rt.db.pool);
        if (o.json) {
          for (const k of all) writeLine(io.stdout, JSON.stringify(json(k)));
          return;
        }
        if (all.length === 0) {
          writeLine(io.stdout, 'no API keys; create one with `meterdata keys create --role …`');
          return;
        }
        const rows = [
          ['id', 'role', 'accounts', 'name', 'key', 'created', 'last used', 'status'],
          ...all.map((k) => [
            String(k.id),
            k.role,
            k.accountCodes.join(',') || '-',
            k.name ?? '-',
            `${k.prefix}…`,
            k.createdAt.toISOString().slice(0, 19) + 'Z',
            k.lastUsedAt ? k.lastUsedAt.toISOString().slice(0, 19) + 'Z' : '-',
            k.revokedAt ? `revoked ${k.revokedAt.toISOString().slice(0, 19)}Z` : 'active',
          ]),
        ];
        const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
        for (const r of rows) {
          writeLine(
            io.stdout,
            r
              .map((cell, c) => cell.padEnd(widths[c]!))
              .join('  ')
              .trimEnd(),
          );
        }
      });
    });

  keys
    .command('revoke <id>')
    .description('revoke a key: requests with it are refused from now on')
    .action(async (idArg: string) => {
      const id = keyId(idArg);
      await withRuntime(io, async (rt) => {
        const before = await apiKeyById(rt.db.pool, id);
        const k = await revokeApiKey(rt.db.pool, id);
        if (!k) {
          throw new MeterdataError(
            ErrorCode.NOT_FOUND,
            `no API key has id ${id}; see meterdata keys list`,
          );
        }
        writeLine(
          io.stdout,
          before?.revokedAt
            ? `API key ${id} (${k.prefix}…) was already revoked at ${k.revokedAt!.toISOString()}`
            : `revoked API key ${id} (${k.prefix}…, role ${k.role}); requests with it are refused from now on`,
        );
      });
    });
}
