import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { splitStatements } from '../split-statements.ts';

/**
 * Versioned migrations of an org dataset's tables, like the control plane's (src/store/migrate.ts):
 * `migrations/NNN_name.sql`, applied once per dataset in order, one transaction each, the applied
 * versions recorded in the dataset itself (`{dataset}._schema_migrations`), so a dataset copied
 * or restored elsewhere carries its version. A migration alters existing tables in place (ALTER
 * COLUMN ... TYPE to widen, ADD COLUMN) and never recreates them.
 *
 * A migration names the dataset `{dataset}` and must tolerate a table the dataset does not have
 * (`ALTER TABLE IF EXISTS`): a table created later comes from its schema file, which is already
 * at the latest version. A dataset this creates is marked at the latest version without running
 * anything: it has no tables yet.
 */
export interface WarehouseMigration {
  version: string;
  statements: string[];
}

const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations');

export function loadMigrations(dir: string = MIGRATIONS_DIR): WarehouseMigration[] {
  return readdirSync(dir)
    .filter((name) => /^\d{3}_[a-z0-9_]+\.sql$/.test(name))
    .sort()
    .map((name) => ({ version: name.replace(/\.sql$/, ''), statements: splitStatements(readFileSync(join(dir, name), 'utf8')) }));
}

/**
 * Brings one dataset to the latest version; returns the versions it applied. The caller runs one
 * of these at a time per dataset (DuckDB: the process owns the file, so serialising in-process
 * is enough); the check inside each migration's transaction keeps a second caller from applying
 * a version twice all the same.
 */
export async function migrateDataset(connection: DuckDBConnection, dataset: string, migrations: readonly WarehouseMigration[]): Promise<string[]> {
  const exists = await connection.runAndReadAll('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [dataset]);
  const fresh = exists.getRows().length === 0;
  await connection.run(`CREATE SCHEMA IF NOT EXISTS ${dataset}`);
  await connection.run(`CREATE TABLE IF NOT EXISTS ${dataset}._schema_migrations (version VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)`);
  const applied: string[] = [];
  for (const migration of migrations) {
    await connection.run('BEGIN TRANSACTION');
    try {
      const done = await connection.runAndReadAll(`SELECT 1 FROM ${dataset}._schema_migrations WHERE version = $1`, [migration.version]);
      if (done.getRows().length === 0) {
        if (!fresh) for (const statement of migration.statements) await connection.run(statement.replaceAll('{dataset}', dataset));
        await connection.run(`INSERT INTO ${dataset}._schema_migrations (version) VALUES ($1)`, [migration.version]);
        if (!fresh) applied.push(migration.version);
      }
      await connection.run('COMMIT');
    } catch (error) {
      await connection.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
  return applied;
}
