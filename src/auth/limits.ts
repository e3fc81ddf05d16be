/**
 * Limits every operation meets before any resolver runs, over HTTP and WebSocket alike:
 * tokens (the parser stops counting at MD_MAX_TOKENS), depth, aliases and directives
 * (graphql-armor validation rules), no list edge twice on one path (meter → transformer →
 * meters → transformer → meters multiplies rows without adding information), and an
 * estimated cost (graphql-query-complexity) in which lists weigh `first:` items — or
 * LIST_SIZE when they take no `first:` — and each field reading interval data READ_COST.
 */
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  type ASTVisitor,
  type DocumentNode,
  type GraphQLCompositeType,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  type GraphQLSchema,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { type ComplexityEstimator, getComplexity } from 'graphql-query-complexity';
import { type Config } from '../config';

/** Items an unbounded list (no `first:`) is assumed to hold. */
export const LIST_SIZE = 5;
/** Weight of a field that reads interval data (a series, an instant). */
export const READ_COST = 100;
const READ_FIELDS = new Set([
  'Meter.series',
  'Meter.intervals',
  'Meter.usage',
  'Meter.history',
  'Transformer.series',
  'Query.instant',
]);

export type Limits = Pick<
  Config,
  'maxDepth' | 'maxAliases' | 'maxDirectives' | 'maxTokens' | 'maxCost'
>;

/** Depth, alias and directive limits as validation rules (graphql-armor). */
export function limitRules(limits: Limits): ValidationRule[] {
  const armor = new ApolloArmor({
    // Tokens: graphql-js's own parse option (parseOptions); suggestions: formatError, per
    // configuration; cost: graphql-query-complexity, which sees `first:`.
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: false },
    costLimit: { enabled: false },
    maxDepth: { n: limits.maxDepth, flattenFragments: true },
    maxAliases: { n: limits.maxAliases },
    maxDirectives: { n: limits.maxDirectives },
  });
  return [...(armor.protect().validationRules as ValidationRule[]), noRepeatedListEdge];
}

function isList(t: Parameters<typeof getNullableType>[0]): boolean {
  return isListType(getNullableType(t)) && isCompositeType(getNamedType(t));
}

/**
 * Rejects an operation in which one list edge (e.g. Transformer.meters) occurs twice on a
 * path: the rows multiply with every round, the information does not.
 */
export function noRepeatedListEdge(context: ValidationContext): ASTVisitor {
  const schema = context.getSchema();
  const walk = (
    set: SelectionSetNode,
    parent: GraphQLCompositeType,
    path: readonly string[],
    fragments: ReadonlySet<string>,
  ): boolean => {
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (sel.name.value.startsWith('__') || !sel.selectionSet) continue;
        if (!isObjectType(parent) && !isInterfaceType(parent)) continue;
        const def = parent.getFields()[sel.name.value];
        if (!def) continue; // other rules report unknown fields
        const key = `${parent.name}.${def.name}`;
        const list = isList(def.type);
        if (list && path.includes(key)) {
          context.reportError(
            new GraphQLError(
              `the list ${key} occurs twice on one path (${[...path, key].join(' → ')}); ask for it once`,
              { nodes: [sel] },
            ),
          );
          return false;
        }
        const next = getNamedType(def.type);
        if (
          isCompositeType(next) &&
          !walk(sel.selectionSet, next, list ? [...path, key] : path, fragments)
        ) {
          return false;
        }
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const t = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent;
        if (t && isCompositeType(t) && !walk(sel.selectionSet, t, path, fragments)) return false;
      } else {
        const name = sel.name.value;
        const frag = context.getFragment(name);
        if (!frag || fragments.has(name)) continue; // cycles are NoFragmentCycles' to report
        const t = schema.getType(frag.typeCondition.name.value);
        if (
          t &&
          isCompositeType(t) &&
          !walk(frag.selectionSet, t, path, new Set([...fragments, name]))
        ) {
          return false;
        }
      }
    }
    return true;
  };
  return {
    OperationDefinition(op) {
      const root = schema.getRootType(op.operation);
      if (root) walk(op.selectionSet, root, [], new Set());
      return false;
    },
  };
}

const estimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  if (field.name.startsWith('__')) return 0;
  const own = READ_FIELDS.has(`${type.name}.${field.name}`) ? READ_COST : 1;
  const first = typeof args.first === 'number' ? Math.max(0, args.first) : undefined;
  const listOfObjects =
    isListType(getNullableType(field.type)) && isCompositeType(getNamedType(field.type));
  // A connection's `edges` and `nodes` are counted once, by the `first:` of the connection.
  const items =
    first ??
    (listOfObjects && !type.name.endsWith('Connection') && !type.name.endsWith('Edge')
      ? LIST_SIZE
      : 1);
  return own + items * childComplexity;
};

/** The estimated cost of an operation (variables applied). */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName?: string | null,
): number {
  // Invalid variables (or no such operation) are execution's to report, as BAD_USER_INPUT,
  // before any resolver runs: they cost nothing here.
  const op = getOperationAST(document, operationName ?? undefined);
  if (!op) return 0;
  if (getVariableValues(schema, op.variableDefinitions ?? [], variables ?? {}).errors) return 0;
  try {
    return complexity(schema, document, variables, operationName);
  } catch {
    // e.g. more nodes than graphql-query-complexity evaluates (fragment bombs)
    return Infinity;
  }
}

function complexity(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName?: string | null,
): number {
  return getComplexity({
    schema,
    query: document,
    estimators: [estimator],
    ...(variables ? { variables } : {}),
    ...(operationName ? { operationName } : {}),
  });
}

/** null when within the limit; otherwise the error to answer with. */
export function costError(cost: number, maxCost: number): GraphQLError | null {
  if (cost <= maxCost) return null;
  return new GraphQLError(
    `the operation's estimated cost is ${Number.isFinite(cost) ? cost : 'beyond counting'}, more than the limit of ${maxCost} (MD_MAX_COST); ask for fewer items (first:), fewer series or fewer aliases, or split it`,
    {
      extensions: { code: 'QUERY_TOO_COMPLEX', cost: Number.isFinite(cost) ? cost : null, maxCost },
    },
  );
}

const SUGGESTION_RE = /\s*Did you mean [^?]*\?/g;

/** A message without graphql-js's "Did you mean …?" hints (they leak the schema). */
export function withoutSuggestions(message: string): string {
  return message.replace(SUGGESTION_RE, '');
}
