/**
 * Privacy of aggregates (DOMAIN.md, "the 15/15 rule"): what a planner or a customer may see of
 * a group of meters. Pure: no I/O; the resolvers bring the group tree and the values.
 *
 * The rule, per group and rule period (a UTC day):
 *  1. A group passes when at least `minCustomers` customers (distinct accounts) have a
 *     complete day in it (a meter of theirs in the group reported every interval), and no
 *     customer has `maxSharePercent` % or more of the group's energy in the day. Counting
 *     complete days only means every interval's total covers those customers: missing data
 *     cannot shrink a total (or a difference of totals, at any resolution) to a few customers.
 *  2. Groups are fixed topology nodes only (system ⊃ substation ⊃ feeder ⊃ transformer), never
 *     arbitrary sets. A group is released when it passes and its *residual* — its meters minus
 *     those of its largest released sub-groups — is empty or passes too. Whatever can be
 *     derived from released groups by difference is then a union of passing groups, and a
 *     union of disjoint passing groups passes (shares only shrink, counts only grow): when
 *     exactly one transformer of a feeder fails, the feeder is withheld as well, since the
 *     feeder minus its released transformers would be that one transformer.
 * Decisions depend only on the group's own sub-tree and the fixed day, so every request that
 * covers an interval gets the same decision for it, whatever range, resolution or scope it
 * asked for.
 */
export interface PrivacyRule {
  minCustomers: number;
  maxSharePercent: number;
}

export function ruleText(rule: PrivacyRule): string {
  return `at least ${rule.minCustomers} customers with a complete day, none with ${rule.maxSharePercent} % or more of the group's energy in the day`;
}

/** A fixed topology group with its sub-groups; `meters` are indexes of the meters directly in it. */
export interface GroupNode {
  key: string;
  children: readonly GroupNode[];
  meters: readonly number[];
}

/** Each meter's energy in one rule period (null = no reading) and whether it reported every interval. */
export interface PeriodTotals {
  sums: ArrayLike<number | null>;
  complete: ArrayLike<boolean>;
}

export interface ReleaseInput {
  root: GroupNode;
  /** the customer (account) of each meter; meters are indexes into this list */
  customers: readonly string[];
  /** per rule period (UTC day) the request touches */
  periods: ReadonlyMap<number, PeriodTotals>;
  /** the requested slots: the rule period of each, and each meter's value (null = no reading) */
  slots: ReadonlyArray<{ period: number; values: ArrayLike<number | null> }>;
  rule: PrivacyRule;
}

export interface Release {
  /** per slot: the root's total when released; null when withheld or nobody reported */
  total: Array<number | null>;
  /** per slot: a total existed and is withheld */
  withheld: boolean[];
  /** per slot: meters of the root group with a reading */
  reporting: number[];
  /** why the root group was withheld where it was (for the error message) */
  reasons: string[];
}

interface Flat {
  node: GroupNode;
  /** every meter of the group, its sub-groups' included */
  all: number[];
}

/** Groups children before parents, each with all its meters. */
function postOrder(root: GroupNode): Flat[] {
  const out: Flat[] = [];
  const walk = (n: GroupNode): number[] => {
    const all = [...n.meters];
    for (const c of n.children) all.push(...walk(c));
    out.push({ node: n, all });
    return all;
  };
  walk(root);
  return out;
}

interface Verdict {
  ok: boolean;
  /** customers with a reading in the period */
  customers: number;
  why?: string;
}

/** The 15/15 test of a set of meters in one period. */
function judge(
  meters: readonly number[],
  customers: readonly string[],
  p: PeriodTotals,
  rule: PrivacyRule,
): Verdict {
  const energy = new Map<string, number>();
  const complete = new Set<string>();
  for (const i of meters) {
    const v = p.sums[i];
    if (v === null || v === undefined) continue;
    const c = customers[i]!;
    energy.set(c, (energy.get(c) ?? 0) + v);
    if (p.complete[i]) complete.add(c);
  }
  if (energy.size === 0) return { ok: true, customers: 0 };
  if (complete.size < rule.minCustomers) {
    const n = complete.size;
    return {
      ok: false,
      customers: energy.size,
      why: `${n} customer${n === 1 ? '' : 's'} with a complete day, fewer than ${rule.minCustomers}`,
    };
  }
  let total = 0;
  let max = 0;
  for (const e of energy.values()) {
    total += e;
    if (e > max) max = e;
  }
  if (total > 0 && max * 100 >= rule.maxSharePercent * total) {
    return {
      ok: false,
      customers: energy.size,
      why: `one customer has ${Math.floor((max * 100) / total)} % of the energy`,
    };
  }
  return { ok: true, customers: energy.size };
}

export function releaseAggregate(input: ReleaseInput): Release {
  const { customers, rule } = input;
  const order = postOrder(input.root);
  const root = order[order.length - 1]!;
  const covered = new Uint8Array(customers.length);
  const reasons = new Set<string>();

  // Children come before parents, so when a group is judged `covered` marks exactly the
  // meters of its largest released sub-groups.
  const rootReleased = new Map<number, boolean>();
  for (const [p, totals] of input.periods) {
    covered.fill(0);
    for (const f of order) {
      const own = judge(f.all, customers, totals, rule);
      const residual = judge(
        f.all.filter((i) => !covered[i]),
        customers,
        totals,
        rule,
      );
      const ok = own.ok && own.customers > 0 && residual.ok;
      if (ok) for (const i of f.all) covered[i] = 1;
      if (f !== root) continue;
      rootReleased.set(p, ok);
      if (!ok && own.customers > 0) {
        reasons.add(
          own.ok
            ? `the part outside its released sub-groups fails the rule (${residual.why}): a difference would reveal it`
            : own.why!,
        );
      }
    }
  }

  const n = input.slots.length;
  const total = new Array<number | null>(n).fill(null);
  const withheld = new Array<boolean>(n).fill(false);
  const reporting = new Array<number>(n).fill(0);
  input.slots.forEach((slot, k) => {
    let sum: number | null = null;
    let count = 0;
    for (const i of root.all) {
      const x = slot.values[i];
      if (x === null || x === undefined) continue;
      sum = (sum ?? 0) + x;
      count++;
    }
    reporting[k] = count;
    if (sum === null) return;
    if (rootReleased.get(slot.period)) total[k] = sum;
    else withheld[k] = true;
  });
  return { total, withheld, reporting, reasons: [...reasons] };
}
