import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { tryLockDir } from './data-dir-lock.ts';
import { pgliteDb, postgresDb, type Db } from './db.ts';
import { migrate } from './migrate.ts';
import { pgliteSocketDb, servePglite } from './control-plane-socket.ts';

export interface ControlPlane {
  db: Db;
  /** postgres: DATABASE_URL; embedded: this process owns the PGlite data; shared: another process owns it and serves it. */
  mode: 'postgres' | 'embedded' | 'shared';
  close(): Promise<void>;
}

/**
 * Opens the control plane: PostgreSQL when a URL is given, else the PGlite database under
 * `dataDir`. PGlite is single-process, so exactly one process owns the folder and uses PGlite
 * directly (PGlite runs one whole transaction at a time); with `share`, the owner also serves
 * it on a Unix socket, and every other process (a CLI next to a running server) goes through
 * that socket instead of opening the files. Migrations run on open.
 */
export async function openControlPlane(options: { dataDir: string; databaseUrl?: string | undefined; share?: boolean }): Promise<ControlPlane> {
  if (options.databaseUrl) {
    const db = postgresDb({ connectionString: options.databaseUrl });
    await migrate(db);
    return { db, mode: 'postgres', close: () => db.close() };
  }
  const socketPath = join(options.dataDir, 'control-plane.sock');
  const lock = tryLockDir(options.dataDir, 'control-plane');
  if (!lock.acquired) {
    if (!existsSync(socketPath)) throw new Error(`The data folder ${options.dataDir} is in use by process ${lock.ownerPid}, which does not share it; stop it or point PIPELINE_DATA_DIR elsewhere`);
    const db = pgliteSocketDb(socketPath);
    return { db, mode: 'shared', close: () => db.close() };
  }
  try {
    const pglite = await PGlite.create(join(options.dataDir, 'control-plane'));
    const db = pgliteDb(pglite);
    await migrate(db);
    let served: { close(): Promise<void> } | undefined;
    if (options.share) {
      rmSync(socketPath, { force: true });
      served = await servePglite(pglite, socketPath);
    }
    return {
      db,
      mode: 'embedded',
      close: async () => {
        await served?.close();
        rmSync(socketPath, { force: true });
        await db.close();
        lock.release();
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}
