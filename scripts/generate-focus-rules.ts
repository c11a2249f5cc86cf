/**
 * Writes configs/focus/rules-1.3.yml, the rule set the FOCUS checker runs, from the official
 * requirements model (../shared/focus/model-1.3.json, FOCUS Requirements Model 1.3.0.3,
 * CC BY 4.0) and the hand-written configs/focus/rules-1.3.overrides.yml.
 *
 * Run: npx node scripts/generate-focus-rules.ts
 *
 * Which model rules go in (the Cost and Usage dataset, CAU-*):
 * - Active leaf rules (not Composite) with keyword MUST / MUST NOT / SHOULD / SHOULD NOT /
 *   RECOMMENDED. MAY rules cannot fail and are left out; Deprecated rules (ProviderName,
 *   PublisherName) and Removed rules are left out.
 * - A leaf inherits the conditions and applicability criteria of the composite rules above it
 *   (e.g. every ContractApplied object rule applies only where ContractApplied is not null).
 * - Static rules carry an encoded check, translated by focus-model-translation.ts unless the
 *   overrides correct it. Dynamic MUST rules have none: they are either supplied with a check
 *   of ours or listed as skipped with a reason. Dynamic SHOULD rules are left out.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { CHECK_FUNCTIONS } from '../src/focus/check-functions.ts';
import type { Condition, FocusRule, FocusRuleSet, RuleLevel } from '../src/focus/focus-rules.ts';
import { describeCondition } from '../src/focus/sql-text.ts';
import { type ElementWhen, type ModelCheck, allOf, translateCondition, translateRequirement } from './focus-model-translation.ts';

interface ModelRule {
  Function: string;
  Status: string;
  Type: 'Static' | 'Dynamic';
  DatasetType?: string;
  ApplicabilityCriteria: string[];
  ValidationCriteria: { Keyword: string; Requirement: ModelCheck; Condition: ModelCheck };
}

export interface FocusModel {
  Details: { ModelVersion: string; FOCUSVersion: string };
  ApplicabilityCriteria: Record<string, { Description: string }>;
  ModelDatasets: Record<string, { ModelRules: string[] }>;
  ModelRules: Record<string, ModelRule>;
}

interface OwnCheck {
  note?: string;
  check: string;
  args: Record<string, unknown>;
  when?: Condition;
}

export interface Overrides {
  providers: Record<string, string[]>;
  corrected: Record<string, OwnCheck>;
  supplied: Record<string, OwnCheck>;
  skipped: Record<string, string>;
  default_skip_reason: string;
  project: (OwnCheck & { id: string; level: RuleLevel; description: string; source?: FocusRule['source'] })[];
}

interface Inherited {
  when?: Condition;
  elementWhen?: ElementWhen;
  criteria: string[];
}

const LEVEL: Record<string, RuleLevel | undefined> = {
  MUST: 'MUST',
  'MUST NOT': 'MUST',
  SHOULD: 'SHOULD',
  'SHOULD NOT': 'SHOULD',
  RECOMMENDED: 'SHOULD',
};

/** Depth-first from the dataset's root rule: leaf ids in spec order with what they inherit. */
function walk(model: FocusModel, rootIds: string[]): Map<string, Inherited> {
  const leaves = new Map<string, Inherited>();
  const visit = (id: string, ctx: Inherited) => {
    const rule = model.ModelRules[id];
    if (!rule || leaves.has(id)) return;
    const own = translateCondition(rule.ValidationCriteria.Condition);
    if (rule.Function !== 'Composite') return void leaves.set(id, ctx);
    const next: Inherited = {
      when: allOf([ctx.when, own.when]),
      elementWhen: own.element ?? ctx.elementWhen,
      criteria: [...new Set([...ctx.criteria, ...rule.ApplicabilityCriteria])],
    };
    for (const item of rule.ValidationCriteria.Requirement.Items ?? []) {
      if (item.CheckFunction === 'CheckModelRule') visit(String(item.ModelRuleId), next);
    }
  };
  for (const id of rootIds) visit(id, { criteria: [] });
  return leaves;
}

const ELEMENT_CHECKS = new Set(['json_key_exists', 'json_not_null', 'json_null', 'json_decimal', 'json_numeric_format', 'json_string_format', 'json_unit_format', 'json_equals_column']);

function describe(check: string, args: Record<string, unknown>, when: Condition | undefined): string {
  const fn = CHECK_FUNCTIONS[check];
  if (!fn) throw new Error(`unknown check function ${check}`);
  const text = fn.describe(args) + (when ? ` when ${describeCondition(when)}` : '');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function toRule(id: string, model: ModelRule, inherited: Inherited, overrides: Overrides): FocusRule | undefined {
  const level = LEVEL[model.ValidationCriteria.Keyword];
  if (!level || model.Status !== 'Active') return undefined;
  const own = translateConditionSafe(model);
  const ours = overrides.corrected[id] ?? overrides.supplied[id];
  let source: FocusRule['source'] = 'model';
  let check: string;
  let args: Record<string, unknown>;
  let when: Condition | undefined;
  let element = own.element ?? inherited.elementWhen;
  if (ours) {
    source = overrides.corrected[id] ? 'corrected' : 'supplied';
    ({ check, args } = ours);
    when = 'when' in ours ? ours.when : own.when;
    if ('when' in ours) element = inherited.elementWhen;
  } else if (model.Type === 'Static') {
    ({ check, args } = translateRequirement(model.ValidationCriteria.Requirement));
    when = own.when;
  } else {
    if (level !== 'MUST') return undefined;
    const reason = overrides.skipped[id] ?? overrides.default_skip_reason;
    return { id, level, source: 'model', description: `Not checked: ${reason}`, skipped: reason };
  }
  if (element && ELEMENT_CHECKS.has(check) && element.column === args.column) {
    args = { ...args, element_when: { key: element.key, is: element.is } };
  }
  const fullWhen = allOf([inherited.when, when]);
  const criteria = [...new Set([...inherited.criteria, ...model.ApplicabilityCriteria])];
  const rule: FocusRule = { id, level, source, description: describe(check, args, fullWhen), check, args };
  if (fullWhen) rule.when = fullWhen;
  if (criteria.length) rule.applies_if = criteria;
  if (ours?.note) rule.note = ours.note;
  return rule;
}

function translateConditionSafe(model: ModelRule) {
  // Dynamic rules' conditions are informative only; a few use shapes we do not translate.
  try {
    return translateCondition(model.ValidationCriteria.Condition);
  } catch (e) {
    if (model.Type === 'Dynamic') return {};
    throw e;
  }
}

export function buildRuleSet(model: FocusModel, overrides: Overrides, columns: string[]): FocusRuleSet {
  const roots = model.ModelDatasets.CostAndUsage?.ModelRules ?? [];
  const leaves = walk(model, roots);
  // Leaves not reachable from the dataset root still count, with nothing inherited.
  for (const [id, r] of Object.entries(model.ModelRules)) {
    if (r.DatasetType === 'CAU' && r.Function !== 'Composite' && !leaves.has(id)) leaves.set(id, { criteria: [] });
  }
  const rules: FocusRule[] = [];
  for (const [id, inherited] of leaves) {
    const rule = toRule(id, model.ModelRules[id] as ModelRule, inherited, overrides);
    if (rule) rules.push(rule);
  }
  for (const key of [...Object.keys(overrides.corrected), ...Object.keys(overrides.supplied), ...Object.keys(overrides.skipped)]) {
    if (!rules.some((r) => r.id === key)) throw new Error(`overrides name ${key}, which is not a generated rule`);
  }
  for (const p of overrides.project) {
    const rule: FocusRule = { id: p.id, level: p.level, source: p.source ?? 'project', description: p.description, check: p.check, args: p.args };
    if (p.when) rule.when = p.when;
    rules.push(rule);
  }
  const providers = Object.fromEntries(Object.entries(overrides.providers).map(([k, v]) => [k, [...v]]));
  // Listed for the checker: explicit criteria (validate-focus --applicability-criteria) are checked against them.
  const criteria = Object.fromEntries(Object.entries(model.ApplicabilityCriteria).map(([k, v]) => [k, v.Description]));
  return {
    focus_version: model.Details.FOCUSVersion,
    model_version: model.Details.ModelVersion,
    dataset: 'CostAndUsage',
    columns,
    applicability_criteria: criteria,
    providers,
    rules,
  };
}

const HEADER = `# FOCUS 1.3 Cost and Usage conformance rules run by src/focus/check-focus-table.ts.
# GENERATED by scripts/generate-focus-rules.ts from the FOCUS Requirements Model (FinOps
# Foundation, CC BY 4.0) and configs/focus/rules-1.3.overrides.yml: edit those, then regenerate.
#
# Each rule: id (the model's rule id, or PRJ-... for ours), level (MUST / SHOULD), source
# (model | corrected | supplied | project), check + args (a function of src/focus/check-functions.ts
# or json-check-functions.ts), when (row condition; absent columns count as null), applies_if
# (applicability criteria, all of which a row's profile must declare), or skipped (why not checkable).
# providers: the profiles; a row's x_SourceSystem names its profile (src/focus/applicability.ts).
`;

export function renderRuleSet(set: FocusRuleSet): string {
  const flow = (v: unknown) => stringify(v, { collectionStyle: 'flow', lineWidth: 0 }).trimEnd();
  const head =
    stringify({ focus_version: set.focus_version, model_version: set.model_version, dataset: set.dataset, columns: set.columns }, { lineWidth: 0 }) +
    `applicability_criteria:\n${Object.entries(set.applicability_criteria).map(([k, v]) => `  ${k}: ${flow(v)}`).join('\n')}\n` +
    `providers:\n${Object.entries(set.providers).map(([k, v]) => `  ${k}: ${flow(v)}`).join('\n')}\n`;
  const body = set.rules.map((r) =>
    Object.entries(r)
      .map(([k, v], i) => `${i === 0 ? '  - ' : '    '}${k}: ${flow(v)}`)
      .join('\n'),
  );
  return `${HEADER}\n${head}rules:\n${body.join('\n')}\n`;
}

function main(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const model = JSON.parse(readFileSync(join(root, '../shared/focus/model-1.3.json'), 'utf8')) as FocusModel;
  const meta = JSON.parse(readFileSync(join(root, '../shared/focus/focus-1.3-meta.json'), 'utf8')) as {
    datasets: { CostAndUsage: { columns: string[] } };
  };
  const overrides = parse(readFileSync(join(root, 'configs/focus/rules-1.3.overrides.yml'), 'utf8')) as Overrides;
  const set = buildRuleSet(model, overrides, meta.datasets.CostAndUsage.columns);
  writeFileSync(join(root, 'configs/focus/rules-1.3.yml'), renderRuleSet(set));
  const skipped = set.rules.filter((r) => r.skipped).length;
  console.log(`wrote configs/focus/rules-1.3.yml: ${set.rules.length} rules, ${set.rules.length - skipped} checked, ${skipped} skipped`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
