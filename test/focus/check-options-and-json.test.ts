/**
 * JSON column rules, dataset-level (GROUP BY) rules and the options of checkFocusTable
 * (provider applicability, where, examples), on seeded copies of the valid fixture.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type RuleResult, checkFocusTable } from '../../src/focus/check-focus-table.ts';
import { InputError } from '../../src/shared/errors.ts';
import { insertedRows } from '../../src/warehouse/warehouse.ts';
import { type Db, createValidFocusTable, openDb } from './focus-fixture.ts';

let db: Db;
let n = 0;

before(async () => {
  db = await openDb();
  await createValidFocusTable(db.sql, 'base');
});
after(() => db.close());

const failing = (results: RuleResult[]) => results.filter((r) => r.status === 'fail').map((r) => r.rule_id).sort();
const byId = (results: RuleResult[], id: string) => results.find((r) => r.rule_id === id) as RuleResult;

async function seeded(mutate: string[], opts: { provider?: string; where?: string } = {}): Promise<RuleResult[]> {
  const t = `j${++n}`;
  await db.sql.all(`CREATE TABLE ${t} AS SELECT * FROM base`);
  for (const m of mutate) await db.sql.all(m.replaceAll('{t}', t));
  return checkFocusTable(db.sql, { table: t, ...opts });
}

const where = (id: string) => `WHERE x_SourceRecordId = '${id}'`;
const contract = (element: string) => `UPDATE {t} SET ContractApplied = '{"Elements": [${element}]}' ${where('usage-1')}`;
const KEYS = '"ContractId": "C-1", "ContractCommitmentId": "CC-1"';

describe('JSON columns', () => {
  test('Tags must be a key-value object with scalar values; invalid JSON does not abort the scan', async () => {
    const nested = await seeded([`UPDATE {t} SET Tags = '{"env": {"name": "prod"}}' ${where('tax-1')}`]);
    assert.deepEqual(failing(nested), ['CAU-Tags-C-001-M']);
    // A JSON column cannot hold invalid JSON; a VARCHAR one (a CSV, a Parquet string) can.
    const t = `j${++n}`;
    await db.sql.all(`CREATE TABLE ${t} AS SELECT * REPLACE (CAST(SkuPriceDetails AS VARCHAR) AS SkuPriceDetails) FROM base`);
    await db.sql.all(`UPDATE ${t} SET SkuPriceDetails = '{"a": 1' ${where('usage-1')}`);
    assert.deepEqual(failing(await checkFocusTable(db.sql, { table: t })), ['CAU-SkuPriceDetails-C-001-M']);
  });

  test('a rule evaluated once per distinct value still counts every failing row', async () => {
    const t = `j${++n}`;
    await db.sql.all(`CREATE TABLE ${t} AS SELECT * FROM base`);
    await db.sql.all(`INSERT INTO ${t} SELECT * EXCLUDE (i) REPLACE ('{"env": ["prod"]}' AS Tags) FROM base, range(4) r(i)`);
    const rows = Number((await db.sql.all(`SELECT count(*) AS n FROM base`))[0]?.n);
    const tags = byId(await checkFocusTable(db.sql, { table: t }), 'CAU-Tags-C-001-M');
    assert.equal(tags.failing_rows, 4 * rows);
    assert.deepEqual(tags.examples[0]?.Tags, { env: ['prod'] });
  });

  test('custom keys inside ContractApplied and AllocatedMethodDetails elements need the x_ prefix', async () => {
    const contractKey = await seeded([contract(`{${KEYS}, "ContractCommitmentAppliedCost": 1, "ContractCommitmentAppliedQuantity": null, "ContractCommitmentAppliedUnit": null, "Note": "x"}`)]);
    assert.deepEqual(failing(contractKey), ['CAU-ContractAppliedObject-O-010-M', 'CAU-ContractAppliedObject-O-017-C']);
    const allocation = await seeded([`UPDATE {t} SET AllocatedMethodDetails = '{"Elements": [{"AllocatedRatio": 1, "Share": 2}]}' ${where('usage-2')}`]);
    assert.deepEqual(failing(allocation), ['CAU-AllocatedMethodDetailsObject-O-009-C']);
  });

  test('ContractApplied element rules: required keys, types, and per-element conditional nulls', async () => {
    const missing = await seeded([contract(`{${KEYS}, "ContractCommitmentAppliedCost": 1}`)]);
    assert.deepEqual(failing(missing), ['CAU-ContractAppliedObject-O-007-M', 'CAU-ContractAppliedObject-O-051-C', 'CAU-ContractAppliedObject-O-060-C']);
    const bothNull = await seeded([contract(`{${KEYS}, "ContractCommitmentAppliedCost": null, "ContractCommitmentAppliedQuantity": null, "ContractCommitmentAppliedUnit": null}`)]);
    assert.deepEqual(failing(bothNull), ['CAU-ContractAppliedObject-O-046-C', 'CAU-ContractAppliedObject-O-055-C']);
    const unitMissing = await seeded([contract(`{${KEYS}, "ContractCommitmentAppliedCost": null, "ContractCommitmentAppliedQuantity": 2, "ContractCommitmentAppliedUnit": null}`)]);
    assert.deepEqual(failing(unitMissing), ['CAU-ContractAppliedObject-O-066-C']);
    const costAsText = await seeded([contract(`{${KEYS}, "ContractCommitmentAppliedCost": "1.5", "ContractCommitmentAppliedQuantity": null, "ContractCommitmentAppliedUnit": null}`)]);
    assert.deepEqual(failing(costAsText), ['CAU-ContractAppliedObject-O-043-M', 'CAU-ContractAppliedObject-O-044-M', 'CAU-ContractAppliedObject-O-048-M']);
    const notArray = await seeded([`UPDATE {t} SET ContractApplied = '{"Elements": {"ContractId": "C-1"}}' ${where('usage-1')}`]);
    assert.ok(failing(notArray).includes('CAU-ContractAppliedObject-O-001-M'));
  });
});

describe('dataset-level rules', () => {
  test('one ServiceCategory per ServiceName, one SkuId per SkuPriceId, one ContractId per commitment', async () => {
    const category = await seeded([`UPDATE {t} SET ServiceCategory = 'Storage', ServiceSubcategory = 'Object Storage' ${where('tax-1')}`]);
    assert.deepEqual(failing(category), ['CAU-ServiceName-C-005-C', 'CAU-ServiceName-C-008-C']);
    const r = byId(category, 'CAU-ServiceName-C-005-C');
    assert.equal(r.failing_rows, 4);
    assert.deepEqual(r.examples[0]?.key, 'Amazon EC2');
    const sku = await seeded([`UPDATE {t} SET SkuId = 'sku-other' ${where('usage-2')}`]);
    assert.deepEqual(failing(sku), ['CAU-SkuPriceId-C-008-M']);
    const parent = await seeded([
      `UPDATE {t} SET ContractApplied = '{"Elements": [{"ContractId": "C-2", "ContractCommitmentId": "CC-1", "ContractCommitmentAppliedCost": 2, "ContractCommitmentAppliedQuantity": null, "ContractCommitmentAppliedUnit": null}]}' ${where('usage-2')}`,
    ]);
    assert.deepEqual(failing(parent), ['CAU-ContractAppliedObject-O-038-M']);
  });
});

describe('options', () => {
  test('provider applicability: undeclared criteria skip their rules, declared ones enforce presence', async () => {
    const seededDefect = [`UPDATE {t} SET CommitmentDiscountStatus = 'Used' ${where('usage-1')}`];
    const aws = await seeded(seededDefect, { provider: 'aws' });
    assert.deepEqual(failing(aws), ['CAU-CommitmentDiscountStatus-C-003-C']);
    const openai = await seeded(seededDefect, { provider: 'openai' });
    assert.deepEqual(failing(openai), []);
    assert.match(byId(openai, 'CAU-CommitmentDiscountStatus-C-003-C').reason ?? '', /openai does not declare COMMITMENT_DISCOUNT_SUPPORTED/);
    const noColumn = await seeded(['ALTER TABLE {t} DROP COLUMN RegionId'], { provider: 'aws' });
    assert.ok(failing(noColumn).includes('CAU-CostAndUsage-D-063-C'));
    const inferred = await seeded(['ALTER TABLE {t} DROP COLUMN RegionId']);
    assert.equal(byId(inferred, 'CAU-CostAndUsage-D-063-C').status, 'skipped');
    await assert.rejects(checkFocusTable(db.sql, { table: 'base', provider: 'nosuch' }), InputError);
  });

  test('where restricts the check to some rows, e.g. one run', async () => {
    const mutate = [`UPDATE {t} SET BilledCost = NULL, x_run_id = 'run-2' ${where('tax-1')}`];
    assert.deepEqual(failing(await seeded(mutate)), ['CAU-BilledCost-C-003-M']);
    assert.deepEqual(failing(await seeded(mutate, { where: "x_run_id = 'run-1'" })), []);
  });

  test('the inserted rows read as UNION ALL parts give the same counts as one scan', async () => {
    const t = `j${++n}`;
    await db.sql.all(`CREATE TABLE ${t} AS SELECT * FROM base`);
    await db.sql.all(`INSERT INTO ${t} SELECT * EXCLUDE (i) REPLACE ('Refund' AS ChargeCategory) FROM base, range(5) r(i)`);
    const whole = await checkFocusTable(db.sql, { table: t, where: "ChargeCategory <> 'Tax'" });
    const split = insertedRows({ table: t, rows: "ChargeCategory <> 'Tax'", parts: ['rowid % 3 = 0', 'rowid % 3 = 1', 'rowid % 3 = 2'] });
    const parts = await checkFocusTable(db.sql, { table: split });
    assert.equal(byId(parts, 'CAU-ChargeCategory-C-003-M').failing_rows, 20);
    assert.deepEqual(parts.map((r) => [r.rule_id, r.status, r.failing_rows]), whole.map((r) => [r.rule_id, r.status, r.failing_rows]));
  });

  test('examples are capped and name the row', async () => {
    const t = `j${++n}`;
    await db.sql.all(`CREATE TABLE ${t} AS SELECT * FROM base`);
    await db.sql.all(`INSERT INTO ${t} SELECT * EXCLUDE (i) REPLACE ('Refund' AS ChargeCategory) FROM base, range(5) r(i)`);
    const results = await checkFocusTable(db.sql, { table: t, maxExamples: 2 });
    const r = byId(results, 'CAU-ChargeCategory-C-003-M');
    assert.equal(r.failing_rows, 20);
    assert.equal(r.examples.length, 2);
    assert.equal(r.examples[0]?.ChargeCategory, 'Refund');
  });
});
