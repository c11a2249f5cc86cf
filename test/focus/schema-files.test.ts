/**
 * configs/schemas/focus/*.json: the FOCUS 1.3 tables the warehouse creates. They must agree
 * with the rule set (columns, types, allowed values) and with the generator's output.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { loadCurrencyCodes, loadFocusRuleSet } from '../../src/focus/focus-rules.ts';
import { buildSchemas, renderSchema } from '../../scripts/generate-focus-schemas.ts';
import { parseCurrencyCodes, renderCurrencyCodes } from '../../scripts/generate-currency-codes.ts';
import { REPO, SHARED_FOCUS } from './focus-fixture.ts';

interface Field {
  name: string;
  type: string;
  mode: string;
  description: string;
  allowed_values?: string[];
}

const skip = existsSync(fileURLToPath(SHARED_FOCUS)) ? false : '../shared/focus absent';
const readSchema = (file: string) =>
  JSON.parse(readFileSync(new URL(`configs/schemas/focus/${file}`, REPO), 'utf8')) as { description: string; fields: Field[] };
const LINEAGE = ['x_org_slug', 'x_pipeline_id', 'x_credential_id', 'x_pipeline_run_date', 'x_run_id', 'x_ingested_at', 'x_ingestion_date'];
const TYPES = ['STRING', 'INT64', 'FLOAT64', 'NUMERIC', 'BIGNUMERIC', 'BOOL', 'DATE', 'TIMESTAMP', 'JSON'];

describe('cost_data_standard_1_3.json', () => {
  const schema = readSchema('cost_data_standard_1_3.json');

  test('the 65 FOCUS columns in specification order, then x_ extensions, no lineage columns', async () => {
    const { columns } = await loadFocusRuleSet();
    const names = schema.fields.map((f) => f.name);
    assert.deepEqual(names.slice(0, 65), columns);
    const extensions = names.slice(65);
    assert.ok(extensions.length >= 3 && extensions.every((n) => n.startsWith('x_')), extensions.join());
    assert.deepEqual(names.filter((n) => LINEAGE.includes(n)), []);
    assert.equal(new Set(names).size, names.length);
    for (const f of schema.fields) {
      assert.ok(TYPES.includes(f.type) && ['REQUIRED', 'NULLABLE'].includes(f.mode) && f.description.length > 10, f.name);
    }
  });

  test('types agree with the type rules: decimals are NUMERIC or BIGNUMERIC (never float), date-times TIMESTAMP, JSON formats JSON', async () => {
    const set = await loadFocusRuleSet();
    const typeOf = new Map(schema.fields.map((f) => [f.name, f.type]));
    const want: Record<string, string[]> = {
      type_decimal: ['NUMERIC', 'BIGNUMERIC'], type_datetime: ['TIMESTAMP'], type_string: ['STRING', 'JSON'],
      key_value_format: ['JSON'], json_object_format: ['JSON'],
    };
    let checked = 0;
    for (const rule of set.rules.filter((r) => r.check && want[r.check])) {
      const column = rule.args?.column as string;
      assert.ok(want[rule.check as string]!.includes(typeOf.get(column) ?? ''), `${column} is ${typeOf.get(column)}, ${rule.id} wants ${rule.check}`);
      checked++;
    }
    assert.ok(checked > 60);
    assert.deepEqual(schema.fields.filter((f) => f.type === 'FLOAT64'), []);
  });

  test('unit prices and quantities are BIGNUMERIC (18 decimals), costs NUMERIC (9)', () => {
    const typeOf = new Map(schema.fields.map((f) => [f.name, f.type]));
    const wide = ['ListUnitPrice', 'ContractedUnitPrice', 'PricingCurrencyListUnitPrice', 'PricingCurrencyContractedUnitPrice', 'PricingQuantity', 'ConsumedQuantity', 'CommitmentDiscountQuantity'];
    assert.deepEqual(schema.fields.filter((f) => f.type === 'BIGNUMERIC').map((f) => f.name).sort(), [...wide].sort());
    for (const cost of ['BilledCost', 'EffectiveCost', 'ListCost', 'ContractedCost', 'PricingCurrencyEffectiveCost']) assert.equal(typeOf.get(cost), 'NUMERIC', cost);
  });

  test('allowed values are those the rules check', async () => {
    const set = await loadFocusRuleSet();
    const ruleValues = new Map(set.rules.filter((r) => r.check === 'allowed_values').map((r) => [r.args?.column as string, r.args?.values]));
    const withValues = schema.fields.filter((f) => f.allowed_values && !f.name.startsWith('x_'));
    assert.ok(withValues.length >= 8);
    for (const f of withValues) {
      if (f.name === 'ChargeClass') continue; // its rule is equals 'Correction', see below
      assert.deepEqual([...(f.allowed_values ?? [])].sort(), [...((ruleValues.get(f.name) as string[] | undefined) ?? [])].sort(), f.name);
    }
    assert.deepEqual(schema.fields.find((f) => f.name === 'ChargeClass')?.allowed_values, [set.rules.find((r) => r.id === 'CAU-ChargeClass-C-005-C')?.args?.value]);
  });

  test('REQUIRED only where FOCUS forbids null on every row', () => {
    const required = schema.fields.filter((f) => f.mode === 'REQUIRED').map((f) => f.name);
    assert.ok(required.includes('BilledCost') && required.includes('ChargePeriodStart') && required.includes('x_SourceSystem'));
    // Null on Tax rows, or absent for providers without the feature.
    for (const n of ['PricingQuantity', 'ListUnitPrice', 'SkuPriceId', 'ChargeClass', 'ProviderName']) assert.ok(!required.includes(n), n);
  });
});

describe('generated files are in sync with ../shared/focus', { skip }, () => {
  test('both table schemas equal the generator output', () => {
    const columns = JSON.parse(readFileSync(new URL('focus-columns.json', SHARED_FOCUS), 'utf8'));
    const schemas = buildSchemas(columns);
    for (const [file, schema] of Object.entries(schemas)) {
      assert.equal(readFileSync(new URL(`configs/schemas/focus/${file}`, REPO), 'utf8'), renderSchema(schema), file);
    }
    assert.equal(schemas['contract_commitment_1_3.json']?.fields.length, 13);
  });

  test('the currency code list equals the generator output and holds the common codes', async () => {
    const csv = readFileSync(new URL('currency_codes.csv', SHARED_FOCUS), 'utf8');
    assert.equal(readFileSync(new URL('configs/focus/currency-codes.json', REPO), 'utf8'), renderCurrencyCodes(parseCurrencyCodes(csv)));
    const codes = await loadCurrencyCodes();
    for (const c of ['USD', 'EUR', 'JPY', 'GBP']) assert.ok(codes.includes(c), c);
  });
});
