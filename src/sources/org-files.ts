import { glob, lstat, realpath, stat } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';

export interface OrgFile {
  /** The file's real path (links resolved): what is read, so a link changed after the check is not followed. */
  real: string;
  /** Its path relative to the org's folder: what messages, quality results and rows show. */
  shown: string;
  size: number;
}

export type OrgFiles =
  /** `folder` is the org folder's real path; `directory`: the path named a folder. */
  | { kind: 'files'; folder: string; directory: boolean; files: OrgFile[] }
  | { kind: 'missing'; reason: string }
  | { kind: 'refused'; reason: string };

const GLOB = /[*?[{]/;

/**
 * The files a path inside the org's folder names (a file; a folder: every file below it; a
 * glob), each resolved to its real path. The whole path is refused when any match resolves
 * outside the folder: a symlink inside it to another org's file, a link to a folder elsewhere
 * that `**` walks into (node's fs.glob follows directory links). A broken link is refused with
 * the same words, so a refusal never tells whether something exists outside the folder.
 *
 * `path` must come from parseSourceUri (relative, no `..`); it is checked again here anyway.
 */
export async function listOrgFiles(path: string, folder: string): Promise<OrgFiles> {
  const root = await realpath(folder).catch(() => undefined);
  if (root === undefined) return { kind: 'missing', reason: "the org's source folder does not exist yet" };
  const inside = (real: string) => real === root || real.startsWith(root + sep);
  const refuse = (name: string): OrgFiles => ({ kind: 'refused', reason: `${name} leads outside the org's source folder (or is a broken link)` });

  let cwd = root;
  let pattern = path;
  let directory = false;
  if (!GLOB.test(path)) {
    const target = resolve(root, path);
    if (!inside(target)) return refuse(path);
    const found = await locate(target, root);
    if (found === 'broken' || !inside(found.real)) return refuse(path);
    if (!found.exists) return { kind: 'missing', reason: `source file ${path} does not exist` };
    const stats = await stat(found.real);
    if (stats.isFile()) return { kind: 'files', folder: root, directory: false, files: [{ real: found.real, shown: relative(root, found.real), size: stats.size }] };
    if (!stats.isDirectory()) return { kind: 'missing', reason: `${path} is neither a file nor a folder` };
    [cwd, pattern, directory] = [found.real, '**/*', true];
  }

  const files = new Map<string, OrgFile>();
  for await (const match of glob(pattern, { cwd })) {
    const name = resolve(cwd, match);
    const real = await realpath(name).catch(() => undefined);
    if (real === undefined || !inside(real)) return refuse(`${relative(root, name)} (matched by ${path})`);
    const stats = await stat(real);
    // One file reached by two names (a link beside its target) is read once.
    if (stats.isFile()) files.set(real, { real, shown: relative(root, real), size: stats.size });
  }
  const sorted = [...files.values()].sort((a, b) => (a.shown < b.shown ? -1 : a.shown > b.shown ? 1 : 0));
  return { kind: 'files', folder: root, directory, files: sorted };
}

/** The real path of `target`, or of its nearest existing ancestor; 'broken' for a link to nowhere (or a loop). */
async function locate(target: string, root: string): Promise<{ real: string; exists: boolean } | 'broken'> {
  for (let path = target, exists = true; ; path = dirname(path), exists = false) {
    const real = await realpath(path).catch(() => undefined);
    if (real !== undefined) return { real, exists };
    if (await lstat(path).then(() => true, () => false)) return 'broken';
    if (path === root || path === dirname(path)) return { real: root, exists: false };
  }
}
