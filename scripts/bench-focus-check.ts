/**
 * Benchmark of checkFocusTable: generates synthetic FOCUS rows in an in-memory DuckDB (one
 * INSERT ... SELECT over range(), no JavaScript row loop) and times the full rule set.
 *
 * Run: npx node scripts/bench-focus-check.ts [rows=1000000] [provider]
 *
 * The rows mix Usage (with and without commitment discount), Tax and Purchase charges, Tags on
 * every row and ContractApplied on a tenth, and one row in 100,000 carries a defect, so the
 * example query for failing rules is part of the measurement.
 */
import { checkFocusTable } from '../src/focus/check-focus-table.ts';
import { createValidFocusTable, openDb } from '../test/focus/focus-fixture.ts';

const rows = Number(process.argv[2] ?? 1_000_000);
const provider = process.argv[3];

// Kind of row i: 0-13 on-demand usage, 14-16 commitment-covered usage, 17 tax, 18-19 purchase.
const generate = `
INSERT INTO bench BY NAME
SELECT
  'rec-' || i AS x_SourceRecordId, 'aws' AS x_SourceSystem, 'provider_reported' AS x_CostSource, 'acme' AS x_org_slug, 'run-1' AS x_run_id,
  'acct-' || (i % 7) AS BillingAccountId, 'Acme ' || (i % 7) AS BillingAccountName, 'Payer Account' AS BillingAccountType, 'USD' AS BillingCurrency,
  TIMESTAMPTZ '2026-05-01 00:00:00+00' AS BillingPeriodStart, TIMESTAMPTZ '2026-06-01 00:00:00+00' AS BillingPeriodEnd,
  TIMESTAMPTZ '2026-05-01 00:00:00+00' + to_hours(i % 720) AS ChargePeriodStart,
  TIMESTAMPTZ '2026-05-01 01:00:00+00' + to_hours(i % 720) AS ChargePeriodEnd,
  'AWS' AS HostProviderName, 'AWS' AS ServiceProviderName, 'AWS' AS InvoiceIssuerName, 'AWS' AS ProviderName, 'AWS' AS PublisherName, 'INV-' || (i % 7) AS InvoiceId,
  CASE WHEN k = 17 THEN 'Tax' WHEN k >= 18 THEN 'Purchase' ELSE 'Usage' END AS ChargeCategory,
  CASE WHEN k = 17 THEN 'One-Time' WHEN k >= 18 THEN 'Recurring' ELSE 'Usage-Based' END AS ChargeFrequency,
  'charge kind ' || k AS ChargeDescription,
  ['Amazon EC2', 'Amazon S3', 'Amazon RDS'][1 + i % 3] AS ServiceName,
  ['Compute', 'Storage', 'Databases'][1 + i % 3] AS ServiceCategory,
  ['Virtual Machines', 'Object Storage', 'Relational Databases'][1 + i % 3] AS ServiceSubcategory,
  'sub-' || (i % 50) AS SubAccountId, 'team ' || (i % 50) AS SubAccountName, 'Linked Account' AS SubAccountType,
  'us-east-1' AS RegionId, 'US East (N. Virginia)' AS RegionName, 'USD' AS PricingCurrency,
  '{"env": "prod", "team": "t' || (i % 50) || '"}' AS Tags,
  CASE WHEN k <> 17 THEN 'sku-' || (i % 3) END AS SkuId,
  CASE WHEN k <> 17 THEN 'price-' || (i % 3) || CASE WHEN k >= 18 THEN '-sp' ELSE '' END END AS SkuPriceId,
  CASE WHEN k <> 17 THEN 'meter-' || (i % 3) END AS SkuMeter,
  CASE WHEN k <> 17 THEN 'Standard' END AS PricingCategory,
  CASE WHEN k <> 17 THEN 'Hours' END AS PricingUnit,
  CASE WHEN k <> 17 THEN 2 END AS PricingQuantity,
  CASE WHEN k <> 17 THEN 0.5 END AS ListUnitPrice, CASE WHEN k <> 17 THEN 0.4 END AS ContractedUnitPrice,
  CASE WHEN k <> 17 THEN 0.5 END AS PricingCurrencyListUnitPrice, CASE WHEN k <> 17 THEN 0.4 END AS PricingCurrencyContractedUnitPrice,
  CASE WHEN k = 17 THEN 0.1 ELSE 1.0 END AS ListCost, CASE WHEN k = 17 THEN 0.1 ELSE 0.8 END AS ContractedCost,
  CASE WHEN k = 17 THEN 0.1 WHEN k BETWEEN 14 AND 16 THEN 0 ELSE 0.8 END AS BilledCost,
  CASE WHEN k = 17 THEN 0.1 WHEN k >= 18 THEN 0 ELSE 0.8 END AS EffectiveCost,
  CASE WHEN k = 17 THEN 0.1 WHEN k >= 18 THEN 0 ELSE 0.8 END AS PricingCurrencyEffectiveCost,
  CASE WHEN k < 17 THEN 2 END AS ConsumedQuantity, CASE WHEN k < 17 THEN 'Hours' END AS ConsumedUnit,
  CASE WHEN k < 17 THEN 'i-' || (i % 1000) END AS ResourceId, CASE WHEN k < 17 THEN 'vm ' || (i % 1000) END AS ResourceName,
  CASE WHEN k < 17 THEN 'Instance' END AS ResourceType,
  CASE WHEN k >= 14 AND k <> 17 THEN 'sp-1' END AS CommitmentDiscountId, CASE WHEN k >= 14 AND k <> 17 THEN 'Compute SP' END AS CommitmentDiscountName,
  CASE WHEN k >= 14 AND k <> 17 THEN 'Spend' END AS CommitmentDiscountCategory, CASE WHEN k >= 14 AND k <> 17 THEN 'Savings Plan' END AS CommitmentDiscountType,
  CASE WHEN k BETWEEN 14 AND 16 THEN 'Used' END AS CommitmentDiscountStatus,
  CASE WHEN k >= 14 AND k <> 17 THEN 0.8 END AS CommitmentDiscountQuantity, CASE WHEN k >= 14 AND k <> 17 THEN 'USD' END AS CommitmentDiscountUnit,
  CASE WHEN i % 10 = 0 THEN '{"Elements": [{"ContractId": "C-1", "ContractCommitmentId": "CC-1", "ContractCommitmentAppliedCost": 0.8, "ContractCommitmentAppliedQuantity": null, "ContractCommitmentAppliedUnit": null}]}' END AS ContractApplied
FROM (SELECT i, i % 20 AS k FROM range(${rows}) t(i))`;

const db = await openDb();
let t = performance.now();
await createValidFocusTable(db.sql, 'bench');
await db.sql.all('DELETE FROM bench');
await db.sql.all(generate);
// Seeded defects: a null BilledCost and an unknown ChargeCategory every 100,000 rows.
await db.sql.all(`UPDATE bench SET BilledCost = NULL WHERE hash(x_SourceRecordId) % 100000 = 1`);
await db.sql.all(`UPDATE bench SET ChargeCategory = 'Refund' WHERE hash(x_SourceRecordId) % 100000 = 2`);
const generateSeconds = (performance.now() - t) / 1000;
const rssBeforeCheck = process.memoryUsage().rss;

t = performance.now();
const results = await checkFocusTable(db.sql, { table: 'bench', provider });
const checkSeconds = (performance.now() - t) / 1000;
db.close();

const count = (s: string) => results.filter((r) => r.status === s).length;
console.log(`rows: ${rows.toLocaleString('en')}; generated in ${generateSeconds.toFixed(2)} s`);
console.log(`checkFocusTable: ${checkSeconds.toFixed(2)} s for ${results.length} rules (${count('pass')} pass, ${count('fail')} fail, ${count('skipped')} skipped)`);
console.log(`failing: ${results.filter((r) => r.status === 'fail').map((r) => `${r.rule_id} (${r.failing_rows})`).join(', ')}`);
// maxRSS is in kilobytes on Linux. The in-memory table itself is part of the RSS before the check.
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
console.log(`RSS before the check (table loaded): ${mib(rssBeforeCheck)}; peak RSS: ${mib(process.resourceUsage().maxRSS * 1024)}`);
