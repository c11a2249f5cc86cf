import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pgliteDb } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrate.ts';
import { REPO } from './test-app.ts';

const MIGRATIONS = join(REPO, 'src', 'store', 'migrations');

/**
 * A migrated, empty control plane as PGlite's own data-folder dump, made once per PGlite
 * version and set of migrations and kept under the temp folder. A new PGlite pays initdb
 * (2-5 s on this machine, in every test process and every fresh CLI data folder); loading
 * this dump takes about 0.4 s. The tests still run `migrate` on it, which finds nothing to do.
 */
async function templatePath(): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.parse(readFileSync(join(REPO, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')).version);
  for (const file of readdirSync(MIGRATIONS).sort()) hash.update(file).update(readFileSync(join(MIGRATIONS, file)));
  const path = join(tmpdir(), `pipeline-test-control-plane-${hash.digest('hex').slice(0, 16)}.tar`);
  if (existsSync(path)) return path;
  const pglite = await PGlite.create();
  await migrate(pgliteDb(pglite));
  const dump = await pglite.dumpDataDir('none');
  await pglite.close();
  // Test processes start together: each writes its own file, and the rename makes one whole.
  const partial = `${path}.${randomBytes(4).toString('hex')}`;
  writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
  renameSync(partial, path);
  return path;
}

/** An in-memory PGlite holding the migrated template. */
export async function migratedPglite(): Promise<PGlite> {
  return PGlite.create({ loadDataDir: new Blob([readFileSync(await templatePath())]) });
}

/**
 * A new PIPELINE_DATA_DIR whose control plane is already created and migrated, for tests of
 * commands rather than of a first start (test/cli/cli.test.ts keeps one fresh folder for that).
 */
export async function seededDataDir(prefix: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const controlPlane = join(dir, 'control-plane');
  mkdirSync(controlPlane);
  execFileSync('tar', ['-xf', await templatePath(), '-C', controlPlane]);
  return dir;
}
