/**
 * Which FOCUS applicability criteria hold for which rows.
 *
 * A rule with ApplicabilityCriteria applies only to data of a provider that declares them
 * (RegionId MUST NOT be null only where REGION_SUPPORTED). One dataset can hold several
 * declarations: an export of cost_data_standard_1_3 has AWS rows (regions, commitments) beside
 * SaaS subscription rows (neither). A row's profile is named by its x_SourceSystem, the key of
 * the converter that wrote it, which is also the key of its profile in rules-1.3.yml.
 * ServiceProviderName cannot name it: a subscription row's is the SaaS vendor, and a
 * marketplace row's is the third party that AWS bills for, under AWS's profile.
 *
 * The check stays one scan: the rows' profiles are counted first (one GROUP BY of one column),
 * then a rule that applies to some of the present profiles only gets them as a row condition
 * (`x_SourceSystem IN (...)`), and a rule that applies to all of them, the usual case, none.
 */
import { InputError } from '../shared/errors.ts';
import type { FocusRule, FocusRuleSet } from './focus-rules.ts';
import type { ColumnSet } from './sql-text.ts';
import type { SqlRunner } from './check-focus-table.ts';

export const PROFILE_COLUMN = 'x_SourceSystem';

export interface ProfileGroup {
  /** Profile key of rules-1.3.yml; undefined for rows whose x_SourceSystem names none. */
  profile?: string;
  /**
   * Criteria the rows declare. Undefined: not known, so applicability is inferred from the
   * columns present (content rules run where their column is; presence rules do not).
   */
  declared?: ReadonlySet<string>;
  /** Rows of the group; undefined when every row is in it and nobody counted. */
  rows?: number;
  /** For the unknown group: the x_SourceSystem values in it (null included). */
  values?: (string | null)[];
}

export type Applicability =
  /** Every row declares the same: a conversion's provider, or criteria given by the user. */
  | { mode: 'provider' | 'criteria'; provider?: string; groups: [ProfileGroup] }
  /** Each row its own profile; groups as present in the rows. */
  | { mode: 'rows'; groups: ProfileGroup[] };

export interface ApplicabilityOptions {
  /** Every row has this profile (a conversion's own rows). */
  provider?: string | undefined;
  /** Every row declares exactly these criteria ('ALL' for all of them); overrides the profiles. */
  applicabilityCriteria?: readonly string[] | undefined;
}

/** Names as the official validator takes them (comma-separated, or ALL), checked against the model. */
export function expandCriteria(names: readonly string[], ruleSet: FocusRuleSet): string[] {
  const known = Object.keys(ruleSet.applicability_criteria);
  const wanted = names.map((n) => n.trim()).filter((n) => n !== '');
  if (wanted.some((n) => n.toUpperCase() === 'ALL')) return known;
  const unknown = wanted.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    throw new InputError(`unknown applicability criteria ${unknown.join(', ')}; FOCUS ${ruleSet.focus_version} defines ${known.join(', ')} (or ALL)`, {
      field: 'applicability-criteria',
    });
  }
  return [...new Set(wanted)];
}

export async function resolveApplicability(sql: SqlRunner, source: string, cols: ColumnSet, ruleSet: FocusRuleSet, opts: ApplicabilityOptions): Promise<Applicability> {
  if (opts.applicabilityCriteria !== undefined) {
    if (opts.provider !== undefined) throw new InputError('give a provider or applicability criteria, not both', { field: 'applicability-criteria' });
    return { mode: 'criteria', groups: [{ declared: new Set(expandCriteria(opts.applicabilityCriteria, ruleSet)) }] };
  }
  if (opts.provider !== undefined) {
    const criteria = ruleSet.providers[opts.provider];
    if (!criteria) {
      throw new InputError(`unknown provider ${opts.provider}; rules-1.3.yml declares ${Object.keys(ruleSet.providers).join(', ')}`, { field: 'provider' });
    }
    return { mode: 'provider', provider: opts.provider, groups: [{ profile: opts.provider, declared: new Set(criteria) }] };
  }
  if (!cols.has(PROFILE_COLUMN)) return { mode: 'rows', groups: [{ values: [] }] };
  const counted = await sql.all(`SELECT ${cols.text(PROFILE_COLUMN)} AS p, count(*) AS n FROM ${source} GROUP BY 1 ORDER BY 1 NULLS LAST`);
  const groups: ProfileGroup[] = [];
  const unknown: ProfileGroup = { values: [], rows: 0 };
  for (const row of counted) {
    const value = row.p === null ? null : String(row.p);
    const criteria = value === null ? undefined : Object.hasOwn(ruleSet.providers, value) ? ruleSet.providers[value] : undefined;
    if (criteria) groups.push({ profile: value as string, declared: new Set(criteria), rows: Number(row.n) });
    else {
      unknown.values?.push(value);
      unknown.rows = (unknown.rows ?? 0) + Number(row.n);
    }
  }
  // An empty table is one unknown group: the rules without criteria still run (and pass).
  if ((unknown.values?.length ?? 0) > 0 || groups.length === 0) groups.push(unknown);
  return { mode: 'rows', groups };
}

function appliesTo(rule: FocusRule, group: ProfileGroup): boolean {
  const criteria = rule.applies_if ?? [];
  if (criteria.length === 0) return true;
  // Unknown rows: whether a conditional column must exist cannot be known; its content rules
  // still run whenever the column is there.
  if (group.declared === undefined) return rule.check !== 'column_present';
  // All of them: the model's texts join a rule's criteria with "and" (e.g. CAU-CostAndUsage-D-047-C).
  return criteria.every((c) => group.declared?.has(c));
}

export interface RuleScope {
  /** Why the rule applies to no row; the rule is then skipped. */
  skip?: string;
  /** SQL restricting the rule to the rows of its profiles; undefined when it applies to every row. */
  condition?: string;
  /** Profiles it applies to, when not all (null: the unknown rows). */
  profiles?: (string | null)[];
  /** Rows it applies to, when not all. */
  rows?: number;
}

export function ruleScope(rule: FocusRule, applicability: Applicability, cols: ColumnSet): RuleScope {
  const { groups } = applicability;
  const applicable = groups.filter((g) => appliesTo(rule, g));
  if (applicable.length === groups.length) return {};
  const criteria = rule.applies_if ?? [];
  if (applicable.length === 0) {
    const [only] = groups;
    if (applicability.mode !== 'rows' || groups.length === 1) {
      if (only?.declared === undefined) return { skip: `needs the rows' profile (${PROFILE_COLUMN}) or applicability criteria to decide (${criteria.join(' and ')})` };
      const lacking = criteria.filter((c) => !only.declared?.has(c)).join(', ');
      return { skip: only.profile !== undefined ? `not applicable: provider ${only.profile} does not declare ${lacking}` : `not applicable: ${lacking} not declared` };
    }
    return { skip: `not applicable: no row's profile (${groups.map(label).join(', ')}) declares ${criteria.join(' and ')}` };
  }
  // Only the 'rows' mode has several groups, each either a known profile or the unknown rest.
  const p = cols.text(PROFILE_COLUMN);
  const keys = (list: ProfileGroup[]) => list.filter((g) => g.profile !== undefined).map((g) => cols.sql.literal(g.profile as string));
  const unknownApplies = applicable.some((g) => g.profile === undefined);
  const condition = unknownApplies
    ? `NOT coalesce(${p} IN (${keys(groups.filter((g) => !applicable.includes(g))).join(', ')}), FALSE)`
    : `coalesce(${p} IN (${keys(applicable).join(', ')}), FALSE)`;
  return { condition, profiles: applicable.map((g) => g.profile ?? null), rows: applicable.reduce((n, g) => n + (g.rows ?? 0), 0) };
}

function label(g: ProfileGroup): string {
  return g.profile ?? 'rows of no known profile';
}

/** What the report says about applicability. */
export function describeApplicability(a: Applicability): string {
  if (a.mode === 'provider') return `provider ${a.provider}: every row declares its profile`;
  if (a.mode === 'criteria') return `declared criteria: ${[...(a.groups[0].declared ?? [])].join(', ') || 'none'}`;
  const parts = a.groups.map((g) =>
    g.profile !== undefined
      ? `${g.profile} ${g.rows ?? 0} rows`
      : `${g.rows ?? 0} rows of no known profile (inferred from the columns present${g.values?.length ? `; ${PROFILE_COLUMN} ${g.values.map((v) => (v === null ? 'null' : JSON.stringify(v))).join(', ')}` : ''})`,
  );
  return `each row's profile by ${PROFILE_COLUMN}: ${parts.join('; ')}`;
}
