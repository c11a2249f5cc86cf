/**
 * Each family of check functions fails on a table seeded with its violation, and only the
 * rules about that violation fail. The base table (focus-fixture.ts) passes every rule, which
 * the first test asserts, so each failure below is caused by its seeded defect.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type RuleResult, checkFocusTable } from '../../src/focus/check-focus-table.ts';
import { type Db, createTextCopy, createValidFocusTable, openDb } from './focus-fixture.ts';

let db: Db;
let n = 0;

before(async () => {
  db = await openDb();
  await createValidFocusTable(db.sql, 'base');
  await createTextCopy(db.sql, 'base', 'base_text');
});
after(() => db.close());

const failing = (results: RuleResult[]) => results.filter((r) => r.status === 'fail').map((r) => r.rule_id).sort();
const byId = (results: RuleResult[], id: string) => results.find((r) => r.rule_id === id) as RuleResult;

/** Copies the base (typed, or text as from a CSV), applies `mutate` SQL ({t} = the copy), checks it. */
async function seeded(mutate: string[], opts: { text?: boolean; provider?: string } = {}): Promise<RuleResult[]> {
  const t = `t${++n}`;
  await db.sql.all(`CREATE TABLE ${t} AS SELECT * FROM ${opts.text ? 'base_text' : 'base'}`);
  for (const m of mutate) await db.sql.all(m.replaceAll('{t}', t));
  return checkFocusTable(db.sql, { table: t, provider: opts.provider });
}

const where = (id: string) => `WHERE x_SourceRecordId = '${id}'`;

describe('base fixture', () => {
  test('passes every rule, typed and as text, with and without a provider', async () => {
    for (const table of ['base', 'base_text']) {
      for (const provider of [undefined, 'aws']) {
        const results = await checkFocusTable(db.sql, { table, provider });
        assert.deepEqual(failing(results), [], `${table} ${provider}`);
        assert.ok(results.filter((r) => r.status === 'pass' && r.level === 'MUST').length > 200);
      }
    }
  });
});

describe('column presence and type', () => {
  test('a missing mandatory column fails its presence rule; rules reading it are skipped', async () => {
    const results = await seeded(['ALTER TABLE {t} DROP COLUMN BilledCost']);
    assert.deepEqual(failing(results), ['CAU-CostAndUsage-D-006-M']);
    assert.equal(byId(results, 'CAU-CostAndUsage-D-006-M').failing_rows, 4);
    assert.equal(byId(results, 'CAU-BilledCost-C-003-M').status, 'skipped');
    assert.match(byId(results, 'CAU-BilledCost-C-003-M').reason ?? '', /BilledCost absent/);
  });

  test('a string column stored as a number fails TypeString; text that is not a decimal fails TypeDecimal', async () => {
    const typed = await seeded(['ALTER TABLE {t} ALTER BillingAccountId TYPE BIGINT']);
    assert.deepEqual(failing(typed), ['CAU-BillingAccountId-C-002-M']);
    const text = await seeded([`UPDATE {t} SET BilledCost = 'abc' ${where('tax-1')}`], { text: true });
    assert.deepEqual(failing(text), ['CAU-BilledCost-C-001-M', 'CAU-BilledCost-C-002-M', 'CAU-BilledCost-C-004-M']);
  });

  test('a custom column without the x_ prefix fails ColumnHandling', async () => {
    const results = await seeded(['ALTER TABLE {t} ADD COLUMN Discount VARCHAR']);
    assert.deepEqual(failing(results), ['ColumnHandling-A-010-M']);
    assert.match(byId(results, 'ColumnHandling-A-010-M').reason ?? '', /Discount/);
  });
});

describe('nullability', () => {
  test('a null cost column fails, with the failing row as example', async () => {
    const results = await seeded([`UPDATE {t} SET EffectiveCost = NULL ${where('usage-1')}`]);
    assert.deepEqual(failing(results), ['CAU-EffectiveCost-C-003-M']);
    const r = byId(results, 'CAU-EffectiveCost-C-003-M');
    assert.equal(r.failing_rows, 1);
    assert.equal(r.examples[0]?.x_SourceRecordId, 'usage-1');
    assert.ok('EffectiveCost' in (r.examples[0] ?? {}));
  });

  test('a null SkuPriceId on usage requires null pricing columns (conditional null)', async () => {
    const results = await seeded([`UPDATE {t} SET SkuPriceId = NULL ${where('usage-1')}`]);
    assert.deepEqual(failing(results), [
      'CAU-ConsumedQuantity-C-009-C', 'CAU-ContractedUnitPrice-C-014-C', 'CAU-ListUnitPrice-C-012-C', 'CAU-PricingCategory-C-012-C',
      'CAU-PricingCurrencyContractedUnitPrice-C-011-C', 'CAU-PricingCurrencyListUnitPrice-C-011-C',
      'CAU-PricingQuantity-C-011-C', 'CAU-SkuPriceDetails-C-004-C', 'CAU-SkuPriceId-C-005-C',
    ]);
  });

  test('the corrected CommitmentDiscountStatus rule: a status without a commitment discount fails', async () => {
    const results = await seeded([`UPDATE {t} SET CommitmentDiscountStatus = 'Used' ${where('usage-1')}`]);
    assert.deepEqual(failing(results), ['CAU-CommitmentDiscountStatus-C-003-C']);
  });
});

describe('allowed values and combinations', () => {
  test('a value outside the allowed list fails', async () => {
    const results = await seeded([`UPDATE {t} SET ChargeFrequency = 'Monthly' ${where('tax-1')}`]);
    assert.deepEqual(failing(results), ['CAU-ChargeFrequency-C-003-M']);
  });

  test('a subcategory under the wrong category fails the pair rule', async () => {
    const results = await seeded([`UPDATE {t} SET ServiceSubcategory = 'Object Storage' ${where('tax-1')}`]);
    assert.deepEqual(failing(results), ['CAU-ServiceName-C-008-C', 'CAU-ServiceSubcategory-C-004-M']);
    assert.equal(byId(results, 'CAU-ServiceName-C-008-C').level, 'SHOULD');
  });

  test('ChargeCategory / ChargeClass / ChargeFrequency combinations', async () => {
    const purchase = await seeded([`UPDATE {t} SET ChargeFrequency = 'Usage-Based' ${where('purchase-1')}`]);
    assert.deepEqual(failing(purchase), ['CAU-ChargeFrequency-C-004-C']);
    const chargeClass = await seeded([`UPDATE {t} SET ChargeClass = 'Refund' ${where('tax-1')}`]);
    assert.deepEqual(failing(chargeClass), ['CAU-ChargeClass-C-005-C']);
    const effective = await seeded([`UPDATE {t} SET EffectiveCost = 10, PricingCurrencyEffectiveCost = 10 ${where('purchase-1')}`]);
    assert.deepEqual(failing(effective), ['CAU-EffectiveCost-C-005-C']);
  });
});

describe('values and formats', () => {
  test('ListCost must equal ListUnitPrice x PricingQuantity up to the rounding of each value to its stated precision', async () => {
    const off = await seeded([`UPDATE {t} SET ListCost = 2.43 ${where('usage-1')}`]);
    assert.deepEqual(failing(off), ['CAU-ListCost-C-011-C', 'CAU-ListUnitPrice-C-014-C']);
    // One unit in the 9th decimal of a DECIMAL(38, 9) cost is not rounding: 0.1 x 24 is 2.4.
    const unit = await seeded([`UPDATE {t} SET ListCost = 2.400000001 ${where('usage-1')}`]);
    assert.deepEqual(failing(unit), ['CAU-ListCost-C-011-C', 'CAU-ListUnitPrice-C-014-C']);
  });

  // Prices and quantities at 18 decimals (BIGNUMERIC), costs at 9: the cost is the product
  // rounded to 9 decimals, the only difference the check allows.
  const priced = (price: string, quantity: string, cost: string) =>
    `UPDATE {t} SET ListUnitPrice = ${price}, ContractedUnitPrice = ${price}, PricingCurrencyListUnitPrice = ${price}, PricingCurrencyContractedUnitPrice = ${price},
       PricingQuantity = ${quantity}, ConsumedQuantity = ${quantity}, ListCost = ${cost}, ContractedCost = ${cost},
       BilledCost = ${cost}, EffectiveCost = ${cost}, PricingCurrencyEffectiveCost = ${cost}, ContractApplied = NULL ${where('usage-1')}`;
  const cases = [
    { name: 'a tiny price times a huge quantity', price: '0.000000000001234567', quantity: '1000000000000', cost: '1.234567', wrong: '1.234577' },
    { name: 'a huge price times a tiny quantity', price: '987654321.123456789', quantity: '0.000000000001234567', cost: '0.001219325', wrong: '0.001219328' },
    { name: 'an OCI price per TB times a quantity in TB with 18 decimals', price: '25.5', quantity: '0.000224014123456789', cost: '0.005712360', wrong: '0.005712357' },
  ];
  for (const c of cases) {
    test(`${c.name}: stored exactly, the product rules pass, a cent-fraction off fails`, async () => {
      for (const text of [false, true]) {
        const exact = await seeded([priced(c.price, c.quantity, c.cost)], { text });
        assert.deepEqual(failing(exact), [], `${c.name}, text ${text}`);
        const stored = await db.sql.all(`SELECT CAST(ListUnitPrice AS VARCHAR) AS p, CAST(PricingQuantity AS VARCHAR) AS q FROM t${n} ${where('usage-1')}`);
        assert.equal(Number(stored[0]?.p), Number(c.price));
        assert.equal(Number(stored[0]?.q), Number(c.quantity));
        if (!text) assert.equal(String(stored[0]?.q).replace(/0+$/, ''), c.quantity.includes('.') ? c.quantity : `${c.quantity}.`, 'every digit kept');
        const wrong = await seeded([priced(c.price, c.quantity, c.wrong)], { text });
        assert.deepEqual(failing(wrong), ['CAU-ContractedCost-C-011-C', 'CAU-ContractedUnitPrice-C-013-C', 'CAU-ListCost-C-011-C', 'CAU-ListUnitPrice-C-014-C'], `${c.name}, text ${text}`);
      }
    });
  }

  test('a file states the precision of its costs by the digits it writes, never coarser than the cent', async () => {
    const text = (sql: string) => sql.replace(/= ([0-9.]+)/g, "= '$1'");
    // 25.5 x 0.000224014123456789 = 0.00571236...: right to its last digit as 0.0057, wrong as 0.0058.
    assert.deepEqual(failing(await seeded([text(priced('25.5', '0.000224014123456789', '0.0057'))], { text: true })), []);
    const products = ['CAU-ContractedCost-C-011-C', 'CAU-ContractedUnitPrice-C-013-C', 'CAU-ListCost-C-011-C', 'CAU-ListUnitPrice-C-014-C'];
    assert.deepEqual(failing(await seeded([text(priced('25.5', '0.000224014123456789', '0.0058'))], { text: true })), products);
    // 0.1 x 24 written as 2.43 is wrong: a cost written with 2 decimals still means the cent,
    // and prices written briefly are taken as written (0.1 is 0.1, not 0.05 to 0.15).
    assert.deepEqual(failing(await seeded([text(priced('0.1', '24', '2.43'))], { text: true })), products);
    assert.deepEqual(failing(await seeded([text(priced('0.1', '24', '2.4'))], { text: true })), []);
  });

  test('negative unit prices fail; periods must not be empty', async () => {
    const negative = await seeded([`UPDATE {t} SET ContractedUnitPrice = -0.09, PricingCurrencyContractedUnitPrice = -0.09, ContractedCost = -2.16 ${where('usage-1')}`]);
    assert.deepEqual(failing(negative), ['CAU-ContractedUnitPrice-C-009-M', 'CAU-PricingCurrencyContractedUnitPrice-C-008-C']);
    const period = await seeded([`UPDATE {t} SET ChargePeriodEnd = ChargePeriodStart ${where('tax-1')}`]);
    assert.deepEqual(failing(period), ['PRJ-ChargePeriod-001']);
  });

  test('text formats: date-time, numeric, currency, placeholders, unit (SHOULD)', async () => {
    const results = await seeded(
      [
        `UPDATE {t} SET ChargePeriodStart = '2026-05-10 00:00:00' ${where('tax-1')}`,
        `UPDATE {t} SET BilledCost = '+0.2' ${where('tax-1')}`,
        `UPDATE {t} SET BillingCurrency = 'usd' ${where('usage-1')}`,
        `UPDATE {t} SET PricingCurrency = 'Credits' ${where('usage-1')}`, // a virtual currency is allowed
        `UPDATE {t} SET InvoiceIssuerName = 'N/A' ${where('usage-2')}`,
        `UPDATE {t} SET PricingUnit = 'GB Months' ${where('usage-2')}`,
      ],
      { text: true },
    );
    assert.deepEqual(failing(results), [
      'CAU-BilledCost-C-002-M', 'CAU-BillingCurrency-C-003-M', 'CAU-BillingCurrency-C-006-M',
      'CAU-ChargePeriodStart-C-002-M', 'CAU-InvoiceIssuerName-C-002-M', 'CAU-PricingUnit-C-003-O',
    ]);
    assert.equal(byId(results, 'CAU-PricingUnit-C-003-O').level, 'SHOULD');
  });
});
