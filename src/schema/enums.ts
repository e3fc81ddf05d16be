/**
 * GraphQL enums. Each maps GraphQL names to the domain's internal values (Channel DELIVERED ↔
 * 'delivered'), built from the domain's own lists so the two cannot drift apart.
 */
// Every schema class imports this module, so the decorators' metadata API is in place before
// any of them runs, whichever entry point loads the schema first.
import 'reflect-metadata';
import { registerEnumType } from 'type-graphql';
import { ROLES, type Role } from '../auth/roles';
import { type Channel } from '../domain/channel';
import { type ChangeReason } from '../domain/readings';
import { type Resolution } from '../domain/series';
import {
  COMM_PATHS,
  CUSTOMER_CLASSES,
  METER_STATUSES,
  PHASES,
  type CommPath,
  type CustomerClass,
  type MeterStatus,
  type Phase,
} from '../domain/topology';
import { ErrorCode } from '../errors';

function identityEnum<T extends string>(values: readonly T[]): { readonly [K in T]: K } {
  return Object.fromEntries(values.map((v) => [v, v])) as { [K in T]: K };
}

export const ChannelEnum = {
  DELIVERED: 'delivered',
  RECEIVED: 'received',
} as const satisfies { [K in Channel as Uppercase<K>]: K };
registerEnumType(ChannelEnum, {
  name: 'Channel',
  description: 'An energy channel of a meter.',
  valuesConfig: {
    DELIVERED: { description: 'Energy delivered to the customer (import).' },
    RECEIVED: { description: 'Energy received from the customer (export, e.g. solar).' },
  },
});

const RESOLUTIONS: readonly Resolution[] = ['HOUR', 'DAY', 'MONTH'];
export const ResolutionEnum = identityEnum(RESOLUTIONS);
registerEnumType(ResolutionEnum, {
  name: 'Resolution',
  description: 'Bucket size of a usage roll-up, in the local time of the service point.',
});

export const MeterStatusEnum = identityEnum<MeterStatus>(METER_STATUSES);
registerEnumType(MeterStatusEnum, { name: 'MeterStatus' });

export const CommPathEnum = identityEnum<CommPath>(COMM_PATHS);
registerEnumType(CommPathEnum, {
  name: 'CommPath',
  description: 'How the head-end reaches the meter.',
});

export const CustomerClassEnum = identityEnum<CustomerClass>(CUSTOMER_CLASSES);
registerEnumType(CustomerClassEnum, { name: 'CustomerClass' });

export const PhaseEnum = identityEnum<Phase>(PHASES);
registerEnumType(PhaseEnum, { name: 'Phase' });

export const ChangeReasonEnum = {
  CORRECTED_RESEND: 'corrected_resend',
  LATE_ACTUAL: 'late_actual',
  EDIT: 'edit',
  REVEE: 'revee',
} as const satisfies { [K in ChangeReason as Uppercase<K>]: K };
registerEnumType(ChangeReasonEnum, {
  name: 'ChangeReason',
  description: 'Why a stored interval value was replaced.',
});

export const RoleEnum = Object.fromEntries(ROLES.map((r) => [r.toUpperCase(), r])) as {
  [K in Role as Uppercase<K>]: K;
};
registerEnumType(RoleEnum, {
  name: 'Role',
  description: 'What a caller may do (README "Security" has the matrix).',
});

/**
 * The error codes, named as they appear in `extensions.code` (the TypeScript member INTERNAL is
 * the code INTERNAL_SERVER_ERROR).
 */
export const ErrorCodeEnum = identityEnum<ErrorCode>(Object.values(ErrorCode));
registerEnumType(ErrorCodeEnum, {
  name: 'ErrorCode',
  description: 'Error codes, as in `extensions.code` of errors and in ingest rejections.',
});
