import { join } from 'node:path';
import { loadMigrations, type WarehouseMigration } from '../duckdb/migrate-dataset.ts';

export { type WarehouseMigration };

const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations');

/** BigQuery's own migration files (`migrations/NNN_name.sql`, BigQuery DDL), read as DuckDB's are. */
export function loadBigQueryMigrations(dir: string = MIGRATIONS_DIR): WarehouseMigration[] {
  return loadMigrations(dir);
}

/** What a migration pass needs from the warehouse, so this file holds only the procedure. */
export interface MigrationRunner {
  /** Creates the dataset; false when it existed already. */
  createDataset(dataset: string): Promise<boolean>;
  /** Creates `{dataset}._schema_migrations` when it does not exist. */
  createVersionTable(dataset: string): Promise<void>;
  appliedVersions(dataset: string): Promise<Set<string>>;
  /** Runs a migration's statements as one script. */
  runStatements(statements: string[]): Promise<void>;
  /** Records versions as applied, each once however many processes record it. */
  recordVersions(dataset: string, versions: string[]): Promise<void>;
}

/**
 * Brings one dataset to the latest version, as the DuckDB warehouse does (versions recorded in
 * `{dataset}._schema_migrations`, a new dataset marked latest without running anything, tables
 * altered in place and never recreated). Differences BigQuery imposes, and why this stays safe:
 * DDL cannot run inside a BigQuery transaction, so a migration's statements run as one script
 * and its version is recorded after; and processes do not share memory, so two workers may
 * migrate one dataset at once. Migrations are therefore written to be idempotent (`ALTER TABLE
 * IF EXISTS`, `ADD COLUMN IF NOT EXISTS`, `SET DATA TYPE` to the type a column may already have)
 * and the record is an insert of the versions not yet there.
 */
export async function migrateBigQueryDataset(runner: MigrationRunner, dataset: string, migrations: readonly WarehouseMigration[]): Promise<string[]> {
  const fresh = await runner.createDataset(dataset);
  await runner.createVersionTable(dataset);
  if (fresh) {
    await runner.recordVersions(dataset, migrations.map((migration) => migration.version));
    return [];
  }
  const done = await runner.appliedVersions(dataset);
  const applied: string[] = [];
  for (const migration of migrations) {
    if (done.has(migration.version)) continue;
    await runner.runStatements(migration.statements.map((statement) => statement.replaceAll('{dataset}', dataset)));
    await runner.recordVersions(dataset, [migration.version]);
    applied.push(migration.version);
  }
  return applied;
}
