/**
 * Versioned warehouse migrations: an org's existing tables are altered in place, once, when the
 * dataset is first used in a process; new datasets and tables start at the latest version.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadTableSchema } from '../../src/warehouse/table-schema.ts';
import { DUCKDB_TYPES, openDuckDbWarehouse } from '../../src/warehouse/duckdb/duckdb-warehouse.ts';
import { loadMigrations } from '../../src/warehouse/duckdb/migrate-dataset.ts';
import { CONFIGS } from '../support/test-app.ts';

const dir = mkdtempSync(join(tmpdir(), 'warehouse-migrations-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const WIDE = ['CommitmentDiscountQuantity', 'ConsumedQuantity', 'ContractedUnitPrice', 'ListUnitPrice', 'PricingCurrencyContractedUnitPrice', 'PricingCurrencyListUnitPrice', 'PricingQuantity'];
const latest = loadMigrations().map((m) => m.version);

/** The FOCUS table as the warehouse created it before migration 001: every decimal DECIMAL(38, 9). */
async function createOldTable(path: string): Promise<void> {
  const schema = await loadTableSchema(CONFIGS, 'focus/cost_data_standard_1_3');
  const columns = schema.fields.map((f) => `"${f.name}" ${f.type === 'BIGNUMERIC' ? 'DECIMAL(38, 9)' : DUCKDB_TYPES[f.type]}${f.mode === 'REQUIRED' ? ' NOT NULL' : ''}`);
  const instance = await DuckDBInstance.create(path);
  const c = await instance.connect();
  await c.run('CREATE SCHEMA acme_dev');
  await c.run(`CREATE TABLE acme_dev.cost_data_standard_1_3 (${columns.join(', ')})`);
  const required = schema.fields.filter((f) => f.mode === 'REQUIRED');
  const value = (type: string) => ({ STRING: "'x'", TIMESTAMP: "TIMESTAMPTZ '2026-01-01 00:00:00+00'", DATE: "DATE '2026-01-01'", NUMERIC: '1.5' })[type] ?? 'NULL';
  await c.run(`INSERT INTO acme_dev.cost_data_standard_1_3 BY NAME
    SELECT ${required.map((f) => `${value(f.type)} AS "${f.name}"`).join(', ')}, 0.000224014 + i AS "PricingQuantity", 25.5 AS "ListUnitPrice", 'row-' || i AS "x_SourceRecordId"
      FROM range(3) t(i)`);
  c.closeSync();
  instance.closeSync();
}

describe('warehouse migrations', () => {
  test('an old table is widened in place when first used: rows intact, the migration recorded once; a second open applies nothing', async () => {
    const path = join(dir, 'old.duckdb');
    await createOldTable(path);
    let warehouse = await openDuckDbWarehouse({ path, configsDir: CONFIGS, threads: 1 });
    // Two first uses at once, from two connections: one migration.
    await Promise.all([
      warehouse.ensureTable('acme_dev', 'cost_data_standard_1_3', 'focus/cost_data_standard_1_3'),
      warehouse.ensureTable('acme_dev', 'contract_commitment_1_3', 'focus/contract_commitment_1_3'),
      warehouse.ensureDataset('acme_dev'),
    ]);
    const types = async () => Object.fromEntries((await warehouse.query(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'acme_dev' AND table_name = 'cost_data_standard_1_3'",
    )).map((r) => [r.column_name, r.data_type]));
    const wide = await types();
    for (const column of WIDE) assert.equal(wide[column], 'DECIMAL(38,18)', column);
    assert.equal(wide.ListCost, 'DECIMAL(38,9)', 'costs keep 9 decimals');
    const rows = await warehouse.query('SELECT x_SourceRecordId AS id, CAST("PricingQuantity" AS VARCHAR) AS q, CAST("ListUnitPrice" AS VARCHAR) AS p, CAST("BilledCost" AS VARCHAR) AS b FROM acme_dev.cost_data_standard_1_3 ORDER BY 1');
    assert.deepEqual(rows, [0, 1, 2].map((i) => ({ id: `row-${i}`, q: `${i}.000224014000000000`, p: '25.500000000000000000', b: '1.500000000' })));
    const recorded = async () => warehouse.query('SELECT version, CAST(applied_at AS VARCHAR) AS at FROM acme_dev._schema_migrations ORDER BY version');
    const first = await recorded();
    assert.deepEqual(first.map((r) => r.version), latest);
    // The widened column keeps values 9 decimals could not.
    await warehouse.runScript([{ sql: `UPDATE acme_dev.cost_data_standard_1_3 SET "PricingQuantity" = 0.000224014123456789 WHERE x_SourceRecordId = 'row-0'` }]);
    assert.deepEqual(await warehouse.query(`SELECT CAST("PricingQuantity" AS VARCHAR) AS q FROM acme_dev.cost_data_standard_1_3 WHERE x_SourceRecordId = 'row-0'`), [{ q: '0.000224014123456789' }]);
    await warehouse.close();

    warehouse = await openDuckDbWarehouse({ path, configsDir: CONFIGS, threads: 1 });
    await warehouse.ensureTable('acme_dev', 'cost_data_standard_1_3', 'focus/cost_data_standard_1_3');
    assert.deepEqual(await recorded(), first, 'nothing applied again');
    assert.equal((await warehouse.query('SELECT count(*)::INTEGER AS n FROM acme_dev.cost_data_standard_1_3'))[0]?.n, 3);
    await warehouse.close();
  });

  test('a new dataset and the tables created in it are at the latest version', async () => {
    const warehouse = await openDuckDbWarehouse({ path: join(dir, 'new.duckdb'), configsDir: CONFIGS, threads: 1 });
    await warehouse.ensureTable('beta_dev', 'cost_data_standard_1_3', 'focus/cost_data_standard_1_3');
    assert.deepEqual((await warehouse.query('SELECT version FROM beta_dev._schema_migrations ORDER BY 1')).map((r) => r.version), latest);
    const type = await warehouse.query("SELECT data_type FROM information_schema.columns WHERE table_schema = 'beta_dev' AND table_name = 'cost_data_standard_1_3' AND column_name = 'ListUnitPrice'");
    assert.deepEqual(type, [{ data_type: 'DECIMAL(38,18)' }]);
    await warehouse.close();
  });
});
