/**
 * The checker on the shared FOCUS sample files (../shared/focus/samples), through the same
 * entry points the CLI uses.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { type RuleResult } from '../../src/focus/check-focus-table.ts';
import { checkFocusFile } from '../../src/focus/check-focus-file.ts';
import { validateFocusFile } from '../../src/focus/validate-focus-file.ts';
import { type Db, SAMPLES, openDb } from './focus-fixture.ts';

const skip = existsSync(fileURLToPath(SAMPLES)) ? false : '../shared/focus/samples absent';
const sample = (name: string) => fileURLToPath(new URL(name, SAMPLES));
const failing = (results: RuleResult[]) => results.filter((r) => r.status === 'fail').map((r) => r.rule_id).sort();

let db: Db;
before(async () => {
  db = await openDb();
});
after(() => db.close());

describe('FOCUS sample files', { skip }, () => {
  test('the synthetic FOCUS 1.3 sample passes every MUST rule, with applicability inferred or declared (aws)', async () => {
    for (const provider of [undefined, 'aws']) {
      const results = await checkFocusFile(db.sql, sample('synthetic_focus-1.3_costandusage_aws_100rows.csv'), { provider });
      const mustFailures = results.filter((r) => r.level === 'MUST' && r.status === 'fail');
      assert.deepEqual(mustFailures.map((r) => r.rule_id), [], `provider ${provider}`);
      // Not vacuous: most MUST rules ran, including the ContractApplied JSON rules when inferred.
      assert.ok(results.filter((r) => r.level === 'MUST' && r.status === 'pass').length > 200);
    }
    const inferred = await checkFocusFile(db.sql, sample('synthetic_focus-1.3_costandusage_aws_100rows.csv'));
    assert.equal(inferred.find((r) => r.rule_id === 'CAU-ContractAppliedObject-O-007-M')?.status, 'pass');
  });

  test('the official FOCUS 1.0 sample fails the rules its known defects break', async () => {
    const results = await checkFocusFile(db.sql, sample('official_focus-1.0_focus_sample_1000rows.csv'));
    // Observed with model 1.3.0.3 and our corrections, read as text with NULL as null:
    // - 1.0 has no HostProviderName / ServiceProviderName (new in 1.3; D-075, D-076), no
    //   InvoiceId / ServiceSubcategory (SHOULD D-033, D-042); its extra `Id` column is not x_ prefixed.
    // - timestamps are '2024-10-01 00:00:00' (no T/Z): the four DateTimeFormat rules, all 1,000 rows.
    // - 1.3 nullability rules tied to SkuPriceId, RegionId, ResourceId that 1.0 did not have.
    // - the Microsoft rows are column-shifted: ListCost is not ListUnitPrice x PricingQuantity.
    // - the 7 Oracle rows lack BillingAccountName, ContractedCost, ChargeFrequency values.
    // - one ServiceName maps to several ServiceCategory values (e.g. Amazon EC2: Compute, Storage).
    assert.deepEqual(failing(results), [
      'CAU-BillingAccountName-C-003-C', 'CAU-BillingPeriodEnd-C-002-M', 'CAU-BillingPeriodStart-C-002-M',
      'CAU-ChargeFrequency-C-003-M', 'CAU-ChargePeriodEnd-C-002-M', 'CAU-ChargePeriodStart-C-002-M',
      'CAU-ConsumedQuantity-C-004-C', 'CAU-ConsumedQuantity-C-009-C', 'CAU-ConsumedUnit-C-003-O',
      'CAU-ContractedCost-C-003-M', 'CAU-ContractedCost-C-011-C', 'CAU-ContractedUnitPrice-C-006-C',
      'CAU-ContractedUnitPrice-C-009-M', 'CAU-ContractedUnitPrice-C-013-C', 'CAU-ContractedUnitPrice-C-014-C',
      'CAU-CostAndUsage-D-033-O', 'CAU-CostAndUsage-D-042-O', 'CAU-CostAndUsage-D-075-M', 'CAU-CostAndUsage-D-076-M',
      'CAU-ListCost-C-011-C', 'CAU-ListUnitPrice-C-012-C', 'CAU-ListUnitPrice-C-014-C',
      'CAU-PricingCategory-C-004-C', 'CAU-PricingCategory-C-012-C', 'CAU-PricingQuantity-C-011-C', 'CAU-PricingUnit-C-003-O',
      'CAU-RegionName-C-004-C', 'CAU-RegionName-C-005-C', 'CAU-ResourceType-C-004-C', 'CAU-ResourceType-C-005-C',
      'CAU-ServiceName-C-005-C', 'CAU-SkuPriceId-C-005-C', 'ColumnHandling-A-010-M', 'ColumnHandling-A-013-O',
    ]);
    const dateFormat = results.find((r) => r.rule_id === 'CAU-ChargePeriodStart-C-002-M');
    assert.equal(dateFormat?.failing_rows, 1000);
    assert.equal(dateFormat?.examples[0]?.ChargePeriodStart, '2024-09-18 22:00:00');
    // TypeDateTime still passes: the values are date-times, only their format is wrong.
    assert.equal(results.find((r) => r.rule_id === 'CAU-ChargePeriodStart-C-001-M')?.status, 'pass');
  });

  test('the hand-written multi-provider sample: its Usage row prices and its Tax row quantity are inconsistent', async () => {
    const results = await checkFocusFile(db.sql, sample('handauthored_focus-1.3_costandusage_multiprovider.csv'));
    // ListCost 120.00 against ListUnitPrice 0.12 x PricingQuantity 1 (and the same for contracted
    // prices); the Tax row has PricingQuantity 1 where 1.3 wants null.
    assert.deepEqual(failing(results), [
      'CAU-ContractedCost-C-011-C', 'CAU-ContractedUnitPrice-C-013-C', 'CAU-ListCost-C-011-C',
      'CAU-ListUnitPrice-C-014-C', 'CAU-PricingQuantity-C-004-C', 'CAU-PricingQuantity-C-011-C',
    ]);
  });

  test('validateFocusFile renders a text report and a JSON report with the exit code', async () => {
    const bad = await validateFocusFile(sample('official_focus-1.0_focus_sample_1000rows.csv'), { sql: db.sql });
    assert.equal(bad.conformant, false);
    assert.equal(bad.exitCode, 1);
    assert.equal(bad.summary.must.failed, 29);
    assert.match(bad.report, /^FAIL MUST {3}CAU-CostAndUsage-D-075-M/m);
    assert.match(bad.report, /Result: NOT conformant \(29 MUST rule\(s\) failed\)\.$/);
    // MUST failures are listed before SHOULD failures.
    assert.ok(bad.report.indexOf('FAIL MUST') < bad.report.indexOf('FAIL SHOULD'));

    const good = await validateFocusFile(sample('synthetic_focus-1.3_costandusage_aws_100rows.csv'), { json: true });
    assert.equal(good.exitCode, 0);
    const parsed = JSON.parse(good.report) as { conformant: boolean; results: RuleResult[] };
    assert.equal(parsed.conformant, true);
    assert.equal(parsed.results.length, good.results.length);
  });
});
