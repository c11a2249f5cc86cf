import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pgliteDb, postgresDb } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrate.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { migratedPglite } from './pglite-template.ts';

/**
 * The control planes a store test runs on: PGlite always, PostgreSQL too when
 * TEST_DATABASE_URL is set (the same test body on both, as pg-boss and Kysely do). Each
 * PostgreSQL one lives in a schema of its own, dropped on close.
 */
export interface ControlPlaneFactory {
  name: 'pglite' | 'postgres';
  open(): Promise<ControlPlane>;
}

export function controlPlaneFactories(): ControlPlaneFactory[] {
  const factories: ControlPlaneFactory[] = [{ name: 'pglite', open: openPglite }];
  const url = process.env.TEST_DATABASE_URL;
  if (url) factories.push({ name: 'postgres', open: () => openPostgres(url) });
  return factories;
}

export async function openPglite(): Promise<ControlPlane> {
  const db = pgliteDb(await migratedPglite());
  await migrate(db);
  return { db, mode: 'embedded', close: () => db.close() };
}

export async function openPostgres(url: string): Promise<ControlPlane> {
  const schema = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const db = postgresDb({ connectionString: url, options: `-c search_path=${schema}`, max: 20 });
  await migrate(db);
  return {
    db,
    mode: 'postgres',
    close: async () => {
      await db.close();
      const cleanup = new pg.Client({ connectionString: url });
      await cleanup.connect();
      await cleanup.query(`DROP SCHEMA ${schema} CASCADE`);
      await cleanup.end();
    },
  };
}
