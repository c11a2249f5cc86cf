import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { tryLockDir } from './data-dir-lock.ts';
import { pgliteDb, postgresDb, type Db } from './db.ts';
import { migrate } from './migrate.ts';

export interface ControlPlane {
  db: Db;
  /** postgres: DATABASE_URL; embedded: this process owns the PGlite data; shared: another process owns it and serves it. */
  mode: 'postgres' | 'embedded' | 'shared';
  close(): Promise<void>;
}

/** PGlite serves other processes of the same data folder on a Unix socket named as PostgreSQL names its own. */
const SOCKET_PORT = 5432;

/**
 * Opens the control plane: PostgreSQL when a URL is given, else the PGlite database under
 * `dataDir`. PGlite is single-process, so exactly one process owns the folder; with `share`,
 * the owner serves it on a Unix socket and every other process (a CLI next to a running
 * server) connects there instead of opening the files. Migrations run on open.
 */
export async function openControlPlane(options: { dataDir: string; databaseUrl?: string | undefined; share?: boolean }): Promise<ControlPlane> {
  if (options.databaseUrl) {
    const db = postgresDb({ connectionString: options.databaseUrl });
    await migrate(db);
    return { db, mode: 'postgres', close: () => db.close() };
  }
  const socketPath = join(options.dataDir, `.s.PGSQL.${SOCKET_PORT}`);
  const lock = tryLockDir(options.dataDir, 'control-plane');
  if (!lock.acquired) {
    if (!existsSync(socketPath)) throw new Error(`The data folder ${options.dataDir} is in use by process ${lock.ownerPid}, which does not share it; stop it or point PIPELINE_DATA_DIR elsewhere`);
    const db = postgresDb({ host: options.dataDir, port: SOCKET_PORT, user: 'postgres', database: 'postgres', max: 2 });
    return { db, mode: 'shared', close: () => db.close() };
  }
  try {
    const pglite = await PGlite.create(join(options.dataDir, 'control-plane'));
    if (!options.share) {
      const db = pgliteDb(pglite);
      await migrate(db);
      return { db, mode: 'embedded', close: async () => { await db.close(); lock.release(); } };
    }
    // While the socket is served, this process goes through it too: the socket server's
    // queue keeps each connection's transaction whole, which direct calls would not respect.
    rmSync(socketPath, { force: true });
    const server = new PGLiteSocketServer({ db: pglite, path: socketPath, maxConnections: 32 });
    await server.start();
    const db = postgresDb({ host: options.dataDir, port: SOCKET_PORT, user: 'postgres', database: 'postgres', max: 4 });
    await migrate(db);
    return {
      db,
      mode: 'embedded',
      close: async () => {
        await db.close();
        await server.stop();
        await pglite.close();
        lock.release();
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}
