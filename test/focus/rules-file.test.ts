/**
 * configs/focus/rules-1.3.yml: it loads, it is what the generator produces, and it accounts
 * for the official requirements model (../shared/focus/model-1.3.json).
 *
 * "Machine-checkable MUST requirement" here: an Active Cost and Usage rule (id CAU-...) with
 * keyword MUST or MUST NOT whose requirement the model encodes as a CheckFunction (the model's
 * Type "Static"), excluding Composite rules, which only combine other rules (CheckModelRule)
 * and hold when their leaves hold. Deprecated and Removed rules are not part of 1.3 conformance.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { CHECK_FUNCTIONS } from '../../src/focus/check-functions.ts';
import { type FocusRule, loadFocusRuleSet, parseFocusRuleSet } from '../../src/focus/focus-rules.ts';
import { InputError } from '../../src/shared/errors.ts';
import { type FocusModel, type Overrides, buildRuleSet, renderRuleSet } from '../../scripts/generate-focus-rules.ts';
import { REPO, SHARED_FOCUS } from './focus-fixture.ts';

const skip = existsSync(fileURLToPath(SHARED_FOCUS)) ? false : '../shared/focus absent';
const readShared = <T>(name: string) => JSON.parse(readFileSync(new URL(name, SHARED_FOCUS), 'utf8')) as T;

interface ModelRuleLite {
  Function: string;
  Status: string;
  Type: string;
  DatasetType?: string;
  ValidationCriteria: { Keyword: string; Requirement: { CheckFunction?: string; ColumnName?: string; Value?: unknown } };
}

describe('rules-1.3.yml', () => {
  test('loads, and every rule reads only FOCUS columns', async () => {
    const set = await loadFocusRuleSet();
    assert.ok(set.rules.length > 400);
    const focus = new Set(set.columns);
    assert.equal(focus.size, 65);
    for (const rule of set.rules.filter((r) => r.check)) {
      for (const c of CHECK_FUNCTIONS[rule.check as string]!.columns(rule.args ?? {})) assert.ok(focus.has(c), `${rule.id} reads ${c}`);
    }
  });

  test('the loader names the rule and the problem', () => {
    const base = { focus_version: '1.3', model_version: 'x', dataset: 'CostAndUsage', columns: [], applicability_criteria: { REGION_SUPPORTED: 'd' }, providers: {} };
    const rule = (r: Partial<FocusRule>) => ({ ...base, rules: [{ id: 'R-1', level: 'MUST', description: 'd', source: 'project', ...r }] });
    assert.throws(() => parseFocusRuleSet(rule({ check: 'nope' }), 'f.yml'), /f\.yml: \/rules\/0 \(R-1\): unknown check function nope/);
    assert.throws(() => parseFocusRuleSet(rule({ check: 'not_null', args: {} }), 'f.yml'), /not_null needs argument column/);
    assert.throws(() => parseFocusRuleSet(rule({ check: 'not_null', args: { column: 'a b' } }), 'f.yml'), /column must be a column name/);
    assert.throws(() => parseFocusRuleSet(rule({ level: 'MAY' as 'MUST' }), 'f.yml'), InputError);
    assert.doesNotThrow(() => parseFocusRuleSet(rule({ skipped: 'not in the data' }), 'f.yml'));
    // A criterion the model does not define would silently never apply.
    assert.throws(() => parseFocusRuleSet(rule({ check: 'not_null', args: { column: 'RegionId' }, applies_if: ['REGION_SUPORTED'] }), 'f.yml'), /unknown applicability criterion REGION_SUPORTED/);
    assert.throws(() => parseFocusRuleSet({ ...rule({ skipped: 's' }), providers: { aws: ['ZONE_SUPPORTED'] } }, 'f.yml'), /\/providers\/aws: unknown applicability criterion ZONE_SUPPORTED/);
  });
});

describe('rules-1.3.yml against the official model', { skip }, () => {
  const model = skip ? undefined : readShared<FocusModel & { ModelRules: Record<string, ModelRuleLite> }>('model-1.3.json');

  test('is exactly what scripts/generate-focus-rules.ts generates (no hand edits, no drift)', () => {
    const overrides = parse(readFileSync(new URL('configs/focus/rules-1.3.overrides.yml', REPO), 'utf8')) as Overrides;
    const meta = readShared<{ datasets: { CostAndUsage: { columns: string[] } } }>('focus-1.3-meta.json');
    const expected = renderRuleSet(buildRuleSet(model as FocusModel, overrides, meta.datasets.CostAndUsage.columns));
    assert.equal(readFileSync(new URL('configs/focus/rules-1.3.yml', REPO), 'utf8'), expected);
  });

  test('every machine-checkable MUST requirement is implemented or skipped with a reason', async () => {
    const set = await loadFocusRuleSet();
    const ours = new Map(set.rules.map((r) => [r.id, r]));
    const required = Object.entries(model!.ModelRules).filter(
      ([, r]) =>
        r.DatasetType === 'CAU' && r.Status === 'Active' && r.Function !== 'Composite' &&
        ['MUST', 'MUST NOT'].includes(r.ValidationCriteria.Keyword) && typeof r.ValidationCriteria.Requirement.CheckFunction === 'string',
    );
    assert.ok(required.length >= 300, `only ${required.length} machine-checkable rules found`);
    const missing = required.filter(([id]) => !ours.has(id)).map(([id]) => id);
    assert.deepEqual(missing, []);
    for (const [id] of required) {
      const rule = ours.get(id) as FocusRule;
      assert.equal(rule.level, 'MUST', id);
      assert.ok(rule.check !== undefined || (rule.skipped ?? '').length > 10, `${id} has neither a check nor a reason`);
    }
    const skipped = required.filter(([id]) => ours.get(id)?.skipped !== undefined).length;
    assert.equal(skipped, 0, 'every machine-checkable MUST rule currently has a check');
  });

  test('Dynamic MUST rules (no encoded check) are all accounted for: supplied with a check or skipped', async () => {
    const set = await loadFocusRuleSet();
    const ours = new Map(set.rules.map((r) => [r.id, r]));
    const dynamic = Object.entries(model!.ModelRules).filter(
      ([, r]) => r.DatasetType === 'CAU' && r.Status === 'Active' && r.Type === 'Dynamic' && ['MUST', 'MUST NOT'].includes(r.ValidationCriteria.Keyword),
    );
    for (const [id] of dynamic) {
      const rule = ours.get(id);
      assert.ok(rule && (rule.source === 'supplied' ? rule.check : rule.skipped), `${id} not accounted for`);
    }
  });

  test('rules translated as-is keep the model check function and column', async () => {
    // Independent of the generator: the model CheckFunction each of our functions stands for.
    const expect: Record<string, string[]> = {
      column_present: ['ColumnPresent'], type_string: ['TypeString'], type_decimal: ['TypeDecimal'], type_datetime: ['TypeDateTime'],
      string_format: ['FormatString'], numeric_format: ['FormatNumeric'], datetime_format: ['FormatDateTime'], currency_format: ['FormatCurrency'],
      unit_format: ['FormatUnit'], key_value_format: ['FormatKeyValue'], national_currency: ['CheckNationalCurrency'], decimal: ['CheckDecimalValue'],
      not_null: ['CheckNotValue'], is_null: ['CheckValue'], equals: ['CheckValue'], not_equals: ['CheckNotValue'], allowed_values: ['OR'], allowed_pairs: ['OR'],
      min_value: ['CheckGreaterOrEqualThanValue'], product_equals: ['ColumnByColumnEqualsColumnValue'], single_value_per: ['CheckDistinctCount'],
    };
    const set = await loadFocusRuleSet();
    let compared = 0;
    for (const rule of set.rules.filter((r) => r.source === 'model' && r.check && expect[r.check])) {
      const req = model!.ModelRules[rule.id]!.ValidationCriteria.Requirement;
      assert.ok(expect[rule.check as string]!.includes(String(req.CheckFunction)), `${rule.id}: ${rule.check} for ${req.CheckFunction}`);
      if (req.ColumnName) assert.equal(rule.args?.column, req.ColumnName, rule.id);
      if (rule.check === 'not_null' || rule.check === 'is_null') assert.equal(req.Value, null, rule.id);
      compared++;
    }
    assert.ok(compared > 250);
  });

  test('the five errata listed in ../shared/focus/README.md are corrected, not translated', async () => {
    const set = await loadFocusRuleSet();
    const errata = ['CAU-CommitmentDiscountStatus-C-003-C', 'CAU-CommitmentDiscountStatus-C-004-C', 'CAU-PricingCurrencyContractedUnitPrice-C-012-C', 'CAU-ContractAppliedObject-O-048-M', 'CAU-ContractAppliedObject-O-057-M'];
    for (const id of errata) assert.equal(set.rules.find((r) => r.id === id)?.source, 'corrected', id);
    assert.equal(set.rules.find((r) => r.id === 'CAU-CommitmentDiscountStatus-C-003-C')?.check, 'is_null');
  });
});
