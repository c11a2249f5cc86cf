/**
 * importPlans against a real (in-memory) DuckDB warehouse: a good file replaces the org's plans,
 * a bad one is refused as a whole with every problem named by line and column.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InputError } from '../../src/shared/errors.ts';
import { importPlans, MAX_PLAN_ROWS, PLAN_COLUMNS, type PlansImportInput } from '../../src/subscription/plans-import.ts';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/duckdb-warehouse.ts';
import { loadTableSchema } from '../../src/warehouse/table-schema.ts';
import type { Warehouse } from '../../src/warehouse/warehouse.ts';
import { CONFIGS, REPO } from '../support/test-app.ts';

const ORG = 'plans_org';
const HEADER = 'subscription_id,vendor,product,plan_name,status,start_date,end_date,billing_cycle,pricing_model,seats,unit_price,currency,discount_percent,service_category,service_subcategory,notes';
const GOOD = [
  HEADER,
  'S-1,Slack Technologies,Slack,Pro,active,2026-01-01,2026-01-31,monthly,per_seat,10,8.75,USD,,,,',
  'S-1,Slack Technologies,Slack,Pro,active,2026-02-01,,monthly,per_seat,12,8.75,USD,,,,',
  'S-2,Notion Labs,Notion,Plus,active,2026-01-15,,annual,flat,,960,EUR,5,,,',
].join('\n');

/** A file with one of each mistake; line numbers are the file's own (the header is line 1). */
const BAD = [
  HEADER,
  'B-1,Acme,Tool,Team,active,2026-01-01,2026-03-31,monthly,per_seat,10,10.00,USD,,,,fine',
  'B-2,Acme,Tool2,Team,active,2026-02-30,,monthly,flat,,10.00,USD,,,,',
  'B-3,Acme,Tool3,Team,active,2026-03-01,2026-02-01,monthly,flat,,10.00,USD,,,,',
  'B-4,Acme,Tool4,Team,paused,2026-01-01,,Monthly,flat,,10.00,USD,,,,',
  'B-5,Acme,Tool5,Team,active,2026-01-01,,monthly,per_seat,2.5,-5,USD,,,,',
  'B-6,Acme,Tool6,Team,active,2026-01-01,,monthly,flat,,"1,200.00",usd,,,,',
  'B-7,Acme,Tool7,Team,active,2026-01-01,,monthly,per_seat,,10.00,XYZ,120,,,',
  'B-1,Acme,Tool,Team,active,2026-03-15,,monthly,per_seat,12,10.00,EUR,,,,"overlaps line 2,',
  'and is in another currency"',
  'B-8,,Tool8,Team,cancelled,2026-01-01,,quarterly,flat,,10.00,USD,,Developer Tools,Object Storage,',
  'B-9,Acme,Tool9,Team,active,2026-01-01,,monthly,flat,,10.00,USD',
  'B-10,Acme,Tool,Team,active,2026-01-01,,monthly,flat,,10.00,USD,,Developer Tools,,',
].join('\n');

describe('importPlans', () => {
  let warehouse: Warehouse;
  const input = (csvText: string, runId = 'import-1'): PlansImportInput => ({ orgSlug: ORG, dataset: `${ORG}_dev`, csvText, importedAt: new Date('2026-03-01T08:30:00Z'), runId });
  const plans = () => warehouse.query(`SELECT subscription_id, start_date::VARCHAR AS start_date, seats::INT AS seats, discount_percent::VARCHAR AS discount, source_line::INT AS line, x_run_id, x_pipeline_id, x_credential_id, x_pipeline_run_date::VARCHAR AS run_date FROM ${ORG}_dev.saas_subscription_plans ORDER BY source_line`);
  const rejection = async (csvText: string): Promise<string[]> => {
    const error = await importPlans(warehouse, input(csvText, 'import-bad')).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`);
    return error.message.split('\n');
  };

  before(async () => {
    warehouse = await openDuckDbWarehouse({ path: ':memory:', configsDir: CONFIGS, threads: 2 });
  });
  after(() => warehouse.close());

  test('the CSV columns are the table schema’s, less the two the import adds', async () => {
    const schema = await loadTableSchema(CONFIGS, 'subscription/saas_subscription_plans');
    const names = schema.fields.map((f) => f.name).filter((n) => !n.startsWith('x_'));
    assert.deepEqual([...PLAN_COLUMNS.map((c) => c.name), 'source_line', 'import_date'], names);
  });

  test('the example file imports; every row keeps its line, the import day is the run date', async () => {
    const csvText = await readFile(join(REPO, 'examples', 'saas_subscription_plans.csv'), 'utf8');
    assert.equal(await importPlans(warehouse, input(csvText)), 9);
    const rows = await plans();
    assert.deepEqual(rows.map((r) => r.line), [2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.ok(rows.every((r) => r.x_pipeline_id === 'saas_subscription_plans_import' && r.x_credential_id === 'default' && r.run_date === '2026-03-01' && r.x_run_id === 'import-1'));
    assert.deepEqual(rows.filter((r) => r.subscription_id === 'SUB-0001').map((r) => [r.start_date, r.seats]), [['2025-11-01', 40], ['2026-01-15', 55]]);
  });

  test('a new import replaces the previous one as a whole', async () => {
    assert.equal(await importPlans(warehouse, input(GOOD, 'import-2')), 3);
    const rows = await plans();
    assert.deepEqual(rows.map((r) => [r.subscription_id, r.start_date, r.seats, r.discount, r.x_run_id]), [
      ['S-1', '2026-01-01', 10, '0.000000000', 'import-2'],
      ['S-1', '2026-02-01', 12, '0.000000000', 'import-2'],
      ['S-2', '2026-01-15', null, '5.000000000', 'import-2'],
    ]);
  });

  test('a bad file lists every problem by line and column, and imports nothing', async () => {
    const before = await plans();
    const [summary, ...problems] = await rejection(BAD);
    assert.deepEqual(problems, [
      'line 3, column start_date: "2026-02-30" is not a date as YYYY-MM-DD',
      'line 4, column end_date: 2026-02-01 is before start_date 2026-03-01',
      'line 5, column status: "paused" is not one of active, trial, cancelled, expired',
      'line 5, column billing_cycle: "Monthly" is not one of monthly, quarterly, annual',
      'line 6, column seats: "2.5" is not a whole number',
      'line 6, column unit_price: -5 is negative',
      'line 7, column unit_price: "1,200.00" is not a number (digits and an optional decimal point, no currency sign or thousands separator)',
      'line 7, column currency: "usd" must be written USD',
      'line 8, column currency: "XYZ" is not an ISO 4217 currency code',
      'line 8, column discount_percent: 120 is more than 100',
      'line 8, column seats: is required for per_seat pricing',
      'line 9, column currency: EUR differs from USD on line 2 of subscription B-1; a change of vendor, billing cycle or currency starts a new subscription_id',
      'line 9, column start_date: 2026-03-15..(open) of subscription B-1 overlaps 2026-01-01..2026-03-31 on line 2; a change starts a new row on its date and the previous row ends the day before',
      'line 11, column vendor: is required',
      'line 11, column end_date: is required when status is cancelled',
      'line 11, column service_subcategory: Object Storage belongs to Storage, not Developer Tools',
      'line 12: has 12 fields, the header has 16',
      'line 13, column service_category: product Tool is Developer Tools / Other (Developer Tools) here and Business Applications / Other (Business Applications) on line 2; FOCUS gives one product (ServiceName) one category',
    ]);
    assert.equal(summary, `The plans file has ${problems.length} problems, nothing was imported:`);
    assert.deepEqual(await plans(), before, 'the previous import is untouched');
  });

  test('header mistakes, an empty file and broken CSV are refused the same way', async () => {
    const header = await rejection('subscription_id,vendor,product,plan_name,status,start_date,billing_cycle,pricing_model,seat,unit_price,currency,vendor\nS-1,A,B,C,active,2026-01-01,monthly,flat,1,10,USD,A');
    assert.deepEqual(header.slice(1), [
      'line 1, column seat: unknown column; the columns are ' + PLAN_COLUMNS.map((c) => c.name).join(', '),
      'line 1, column vendor: appears twice in the header',
    ]);
    assert.deepEqual((await rejection('subscription_id,vendor\nS-1,A')).slice(1, 3), ['line 1, column product: required column missing from the header', 'line 1, column plan_name: required column missing from the header']);
    assert.deepEqual((await rejection(`${HEADER}\n,,,,,,,,,,,,,,,\n`)).slice(1), ['line 2: the file has no plan rows (an import replaces all plans of the org, so an empty file is refused)']);
    assert.match((await rejection(`${HEADER}\nS-1,"unclosed,Slack\n`))[0] ?? '', /^The plans file is not valid CSV, nothing was imported: line 2: Quote Not Closed/);
    assert.equal((await plans()).length, 3, 'still the last good import');
  });

  test('a file of thousands of bad rows counts every problem and lists the first 100, each value cut short', async () => {
    const long = 'x'.repeat(5000);
    const lines = [HEADER, ...Array.from({ length: 3000 }, (_, i) => `S-${i},Acme,Tool${i},Team,${long},2026-01-01,,monthly,flat,,10.00,USD,,,,`)];
    const [summary, ...problems] = await rejection(lines.join('\n'));
    assert.equal(summary, 'The plans file has 3000 problems, nothing was imported (the first 100 listed):');
    assert.equal(problems.length, 100);
    assert.equal(problems[0], `line 2, column status: "${'x'.repeat(60)}…" is not one of active, trial, cancelled, expired`);
    assert.match(problems[99] ?? '', /^line 101, column status/);
  });

  test(`a file of more than ${MAX_PLAN_ROWS} rows is refused as a whole`, async () => {
    const rows = Array.from({ length: MAX_PLAN_ROWS + 1 }, (_, i) => `S-${i},A,B,C,active,2026-01-01,,monthly,flat,,1,USD,,,,`);
    const [summary] = await rejection([HEADER, ...rows].join('\n'));
    assert.equal(summary, `The plans file has more than ${MAX_PLAN_ROWS} plan rows, nothing was imported`);
    assert.equal((await plans()).length, 3, 'still the last good import');
  });
});
