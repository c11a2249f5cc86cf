import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pgliteDb } from '../../src/store/db.ts';
import { migrate, MIGRATIONS_DIR } from '../../src/store/migrate.ts';
import { REPO } from './test-app.ts';

/**
 * A migrated, empty control plane as PGlite's own data-folder dump, made once per PGlite
 * version and set of migrations and kept under the temp folder. A new PGlite pays initdb
 * (2-5 s on this machine, in every test process and every fresh CLI data folder); loading
 * this dump takes about 0.4 s. The tests still run `migrate` on it, which finds nothing to do.
 */
async function makeTemplate(): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.parse(readFileSync(join(REPO, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')).version);
  for (const file of readdirSync(MIGRATIONS_DIR).sort()) hash.update(file).update(readFileSync(join(MIGRATIONS_DIR, file)));
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

// Once per process: the hash, the dump (made or found) and its bytes.
let template: Promise<string> | undefined;
const templatePath = () => (template ??= makeTemplate());
let templateBytes: Promise<Blob> | undefined;

/** An in-memory PGlite holding the migrated template. */
export async function migratedPglite(): Promise<PGlite> {
  templateBytes ??= templatePath().then((path) => new Blob([readFileSync(path)]));
  return PGlite.create({ loadDataDir: await templateBytes });
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
