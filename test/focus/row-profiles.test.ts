/**
 * Applicability per row (src/focus/applicability.ts): each row is checked under the profile its
 * x_SourceSystem names, unless a provider or explicit applicability criteria are given.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type RuleResult, checkFocusTable, checkFocusTableWithApplicability } from '../../src/focus/check-focus-table.ts';
import { InputError } from '../../src/shared/errors.ts';
import { type Db, createValidFocusTable, openDb } from './focus-fixture.ts';

let db: Db;
let n = 0;

before(async () => {
  db = await openDb();
  await createValidFocusTable(db.sql, 'base');
});
after(() => db.close());

const byId = (results: RuleResult[], id: string) => results.find((r) => r.rule_id === id) as RuleResult;
const failing = (results: RuleResult[]) => results.filter((r) => r.status === 'fail').map((r) => r.rule_id).sort();

/** A copy of the valid rows with `mutate` applied ({t} is the table). */
async function table(...mutate: string[]): Promise<string> {
  const t = `p${++n}`;
  await db.sql.all(`CREATE TABLE ${t} AS SELECT * FROM base`);
  for (const m of mutate) await db.sql.all(m.replaceAll('{t}', t));
  return t;
}

// Two rows of the subscription profile (no account names) and two of AWS's, none with an account name.
const MIXED = [`UPDATE {t} SET BillingAccountName = NULL`, `UPDATE {t} SET x_SourceSystem = CASE WHEN x_SourceRecordId IN ('usage-1', 'tax-1') THEN 'aws' ELSE 'subscription' END`];
const NAME_NOT_NULL = 'CAU-BillingAccountName-C-003-C';
const REGION_PRESENT = 'CAU-CostAndUsage-D-063-C';

describe('each row under its own profile', () => {
  test('a rule whose criterion only some profiles declare fails only their rows', async () => {
    const t = await table(...MIXED);
    const { results, applicability } = await checkFocusTableWithApplicability(db.sql, { table: t });
    assert.deepEqual(applicability.groups.map((g) => [g.profile, g.rows]), [['aws', 2], ['subscription', 2]]);
    const name = byId(results, NAME_NOT_NULL);
    assert.deepEqual([name.status, name.failing_rows, name.profiles], ['fail', 2, ['aws']]);
    assert.ok(name.examples.every((e) => e.x_SourceSystem === 'aws'), 'the examples are the AWS rows and say so');
    // The subscription rows alone, or under their profile, pass it.
    assert.equal(byId(await checkFocusTable(db.sql, { table: t, where: "x_SourceSystem = 'subscription'" }), NAME_NOT_NULL).status, 'skipped');
    assert.equal(byId(await checkFocusTable(db.sql, { table: t, provider: 'subscription' }), NAME_NOT_NULL).status, 'skipped');
  });

  test('one scan gives, rule by rule, the counts of checking each profile’s rows with its provider', async () => {
    // Seeded defects of both kinds: one a rule of every profile catches, one only AWS's profile catches.
    const t = await table(...MIXED, `UPDATE {t} SET ChargeCategory = 'Refund' WHERE x_SourceRecordId IN ('usage-1', 'purchase-1')`);
    const mixed = await checkFocusTable(db.sql, { table: t });
    const aws = await checkFocusTable(db.sql, { table: t, where: "x_SourceSystem = 'aws'", provider: 'aws' });
    const subscription = await checkFocusTable(db.sql, { table: t, where: "x_SourceSystem = 'subscription'", provider: 'subscription' });
    assert.equal(byId(mixed, 'CAU-ChargeCategory-C-003-M').failing_rows, 2);
    assert.equal(byId(mixed, NAME_NOT_NULL).failing_rows, 2);
    let compared = 0;
    mixed.forEach((r, i) => {
      const [a, s] = [aws[i] as RuleResult, subscription[i] as RuleResult];
      // Dataset (GROUP BY) and schema rules read the whole table, not row by row.
      if (r.status === 'skipped' || /-D-|ServiceName-C-00[58]|SkuPriceId-C-008|O-038/.test(r.rule_id)) return;
      assert.equal(r.failing_rows, a.failing_rows + s.failing_rows, r.rule_id);
      compared++;
    });
    assert.ok(compared > 150, `${compared} rules compared`);
  });

  test('a missing conditional column fails the rows whose profile demands it, and none other', async () => {
    const mixed = await checkFocusTable(db.sql, { table: await table(...MIXED, 'ALTER TABLE {t} DROP COLUMN RegionId') });
    const present = byId(mixed, REGION_PRESENT);
    assert.deepEqual([present.status, present.failing_rows, present.profiles], ['fail', 2, ['aws']]);
    const subscriptionOnly = await checkFocusTable(db.sql, { table: await table(...MIXED, "UPDATE {t} SET x_SourceSystem = 'subscription'", 'ALTER TABLE {t} DROP COLUMN RegionId') });
    assert.match(byId(subscriptionOnly, REGION_PRESENT).reason ?? '', /not applicable: provider subscription does not declare REGION_SUPPORTED/);
  });

  test('rows naming no profile keep the inference from the columns, beside rows that name one', async () => {
    // The fixture's x_SourceSystem names no profile; make two rows AWS's, and drop a column AWS must have.
    const t = await table(`UPDATE {t} SET x_SourceSystem = 'aws' WHERE x_SourceRecordId IN ('usage-1', 'tax-1')`, 'ALTER TABLE {t} DROP COLUMN RegionId');
    const { results, applicability } = await checkFocusTableWithApplicability(db.sql, { table: t });
    assert.deepEqual(applicability.groups.map((g) => [g.profile ?? null, g.rows, g.values]), [['aws', 2, undefined], [null, 2, ['fixture']]]);
    assert.equal(byId(results, REGION_PRESENT).failing_rows, 2, 'only the AWS rows demand RegionId');
    // The ContractApplied rules (CONTRACT_COMMITMENTS_SUPPORTED, no profile of ours) run on the unknown rows only.
    const contract = byId(results, 'CAU-ContractAppliedObject-O-007-M');
    assert.deepEqual([contract.status, contract.profiles], ['pass', [null]]);
    const bad = await table(`UPDATE {t} SET ContractApplied = '{"Elements": [{"ContractId": "C-1"}]}'`, `UPDATE {t} SET x_SourceSystem = 'aws' WHERE x_SourceRecordId IN ('usage-1', 'tax-1')`);
    assert.equal(byId(await checkFocusTable(db.sql, { table: bad }), 'CAU-ContractAppliedObject-O-007-M').failing_rows, 2);
  });
});

describe('explicit applicability criteria', () => {
  test('override every row’s profile: the listed criteria apply to all rows, the others to none', async () => {
    const t = await table(...MIXED);
    const naming = await checkFocusTable(db.sql, { table: t, applicabilityCriteria: ['ACCOUNT_NAMING_SUPPORTED'] });
    assert.equal(byId(naming, NAME_NOT_NULL).failing_rows, 4, 'the subscription rows too');
    assert.match(byId(naming, 'CAU-CommitmentDiscountStatus-C-003-C').reason ?? '', /not applicable: COMMITMENT_DISCOUNT_SUPPORTED not declared/);
    const none = await checkFocusTable(db.sql, { table: t, applicabilityCriteria: [] });
    assert.deepEqual(failing(none), []);
    assert.equal(byId(none, NAME_NOT_NULL).status, 'skipped');
    const all = await checkFocusTable(db.sql, { table: t, applicabilityCriteria: ['ALL'] });
    assert.ok(all.filter((r) => r.status !== 'skipped').length > naming.filter((r) => r.status !== 'skipped').length);
    assert.ok(failing(all).includes(NAME_NOT_NULL));
  });

  test('unknown names, and a provider given with criteria, are refused', async () => {
    await assert.rejects(checkFocusTable(db.sql, { table: 'base', applicabilityCriteria: ['REGION_SUPORTED'] }), (e: Error) => e instanceof InputError && /unknown applicability criteria REGION_SUPORTED; FOCUS 1\.3 defines ACCOUNT_NAMING_SUPPORTED/.test(e.message));
    await assert.rejects(checkFocusTable(db.sql, { table: 'base', provider: 'aws', applicabilityCriteria: ['ALL'] }), /not both/);
  });
});
