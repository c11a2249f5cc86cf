/**
 * What a `source_uri` names, decided from its text alone (no file is touched): a cloud URI (for
 * the org's own credential to read), or a path inside the org's source folder. Anything that could
 * leave that folder by its spelling is refused here; what could leave it through the file
 * system (a symlink) is refused by listOrgFiles, which resolves every match.
 */
export type SourceUri =
  | { kind: 'remote'; scheme: 'gs' | 's3' | 'bq'; uri: string }
  /** `path` is relative to the org's folder: a file, a folder or a glob. */
  | { kind: 'org'; path: string }
  | { kind: 'refused'; reason: string };

const REMOTE: Record<string, 'gs' | 's3' | 'bq'> = { gs: 'gs', gcs: 'gs', s3: 's3', s3a: 's3', bq: 'bq', bigquery: 'bq' };

/**
 * `..` as a whole segment, also inside glob syntax: node's fs.glob expands `{..,sub}/*` to the
 * parent's entries (measured); extglob forms such as `@(..)` are refused the same way.
 */
const PARENT = /(^|[/{},()|])\.\.($|[/{},()|])/;

export function parseSourceUri(uri: string): SourceUri {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme) {
    const remote = REMOTE[scheme];
    if (remote) return { kind: 'remote', scheme: remote, uri };
    return { kind: 'refused', reason: `uses the unsupported scheme ${scheme}://; give a path relative to the org's source folder, or a gs://, s3:// or bq:// URI` };
  }
  if (uri.includes('\0')) return { kind: 'refused', reason: 'contains a NUL character' };
  // A backslash escapes glob characters (`\.\.`), and on no platform we run is it a separator.
  if (uri.includes('\\')) return { kind: 'refused', reason: 'contains a backslash; separate folders with /' };
  // A leading / also right after glob syntax: `{/etc/passwd,x}` expands to an absolute path.
  if (/(^|[{,(|])[/~]/.test(uri)) return { kind: 'refused', reason: "must be a path relative to the org's source folder, not an absolute path" };
  if (PARENT.test(uri)) return { kind: 'refused', reason: "must stay inside the org's source folder (no .. segments)" };
  return { kind: 'org', path: uri.replace(/^(\.\/)+/, '') };
}
