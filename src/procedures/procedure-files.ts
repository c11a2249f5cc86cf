import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from '../shared/ids.ts';
import type { Dialect } from '../store/procedures.ts';
import { isProcedureName } from './procedure-name.ts';

/** A procedure file: `configs/system/procedures/{domain}/{name}.{dialect}.sql`. */
export interface ProcedureFile {
  name: string;
  domain: string;
  dialect: Dialect;
  /** Relative to configs/system/procedures, as `procedure:` names it in a step plus the extension. */
  path: string;
  sql: string;
  content_hash: string;
  /** Why the file cannot be registered; runs cannot use it either. */
  problem?: string;
}

const DOMAIN = /^[a-z0-9_]+$/;

export function proceduresDir(configsDir: string): string {
  return join(configsDir, 'system', 'procedures');
}

/** The content hash of a procedure's text, stored with its registration. */
export function contentHash(sql: string): string {
  return sha256(sql);
}

/** The procedure files of one dialect, by name; a name in two domains is a problem of both files. */
export async function procedureFiles(configsDir: string, dialect: Dialect): Promise<ProcedureFile[]> {
  const root = proceduresDir(configsDir);
  const suffix = `.${dialect}.sql`;
  const files: ProcedureFile[] = [];
  const domains = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const domain of domains.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort()) {
    const names = (await readdir(join(root, domain))).filter((file) => file.endsWith(suffix)).sort();
    for (const file of names) {
      const name = file.slice(0, -suffix.length);
      const sql = await readFile(join(root, domain, file), 'utf8');
      const problem = !DOMAIN.test(domain)
        ? `the folder ${domain} is not a domain name (lowercase letters, digits and underscores)`
        : !isProcedureName(name)
          ? `the file name ${name} is not a procedure name (sp_ then lowercase letters, digits and underscores)`
          : undefined;
      files.push({ name, domain, dialect, path: `${domain}/${file}`, sql, content_hash: contentHash(sql), ...(problem ? { problem } : {}) });
    }
  }
  for (const file of files) {
    const twin = files.find((other) => other !== file && other.name === file.name);
    if (twin && !file.problem) file.problem = `${file.name} is also defined in ${twin.path}; a procedure's name is unique across domains`;
  }
  return files;
}
