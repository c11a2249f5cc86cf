/**
 * What a `source_uri` names, decided from its text alone (nothing is touched): a path inside the
 * org's source folder, objects of a gs:// or s3:// bucket (read with the org's own credential,
 * src/sources/remote-objects.ts), or a BigQuery table (bq://, the customer's billing export).
 * Anything that could leave the org's folder by its spelling is refused here; what could leave it
 * through the file system (a symlink) is refused by listOrgFiles, which resolves every match.
 *
 * A BigQuery warehouse reads a `bigquery_table` where it lies (`SELECT ... FROM
 * \`project.dataset.table\``, the three parts validated here); the DuckDB warehouse pages it into
 * the run's scratch folder (bigquery-table.ts).
 */
export type SourceUri =
  /** `path` is relative to the org's folder: a file, a folder or a glob. */
  | { kind: 'org'; path: string }
  /** `pattern`: an object name, a prefix (`''`, `dir/`: every object below) or a glob (`*`, `**`, `?`). */
  | { kind: 'object_store'; scheme: 'gs' | 's3'; bucket: string; pattern: string; uri: string }
  | { kind: 'bigquery_table'; project: string; dataset: string; table: string; uri: string }
  | { kind: 'refused'; reason: string };

const SCHEMES: Record<string, 'gs' | 's3' | 'bq'> = { gs: 'gs', gcs: 'gs', s3: 's3', s3a: 's3', bq: 'bq', bigquery: 'bq' };

/**
 * `..` as a whole segment, also inside glob syntax: node's fs.glob expands `{..,sub}/*` to the
 * parent's entries (measured); extglob forms such as `@(..)` are refused the same way.
 */
const PARENT = /(^|[/{},()|])\.\.($|[/{},()|])/;

export function parseSourceUri(uri: string): SourceUri {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme) {
    const remote = SCHEMES[scheme];
    if (!remote) return { kind: 'refused', reason: `uses the unsupported scheme ${scheme}://; give a path relative to the org's source folder, or a gs://, s3:// or bq:// URI` };
    const rest = uri.slice(scheme.length + 3);
    return remote === 'bq' ? bigQueryTable(rest, uri) : objectStore(remote, rest, uri);
  }
  if (uri.includes('\0')) return { kind: 'refused', reason: 'contains a NUL character' };
  // A backslash escapes glob characters (`\.\.`), and on no platform we run is it a separator.
  if (uri.includes('\\')) return { kind: 'refused', reason: 'contains a backslash; separate folders with /' };
  // A leading / also right after glob syntax: `{/etc/passwd,x}` expands to an absolute path.
  if (/(^|[{,(|])[/~]/.test(uri)) return { kind: 'refused', reason: "must be a path relative to the org's source folder, not an absolute path" };
  if (PARENT.test(uri)) return { kind: 'refused', reason: "must stay inside the org's source folder (no .. segments)" };
  return { kind: 'org', path: uri.replace(/^(\.\/)+/, '') };
}

/**
 * Bucket names as the providers define them: S3's 3-63 lowercase letters, digits, dots and
 * hyphens; GCS also allows `_` and, with dots, up to 222 characters in parts of at most 63.
 */
const BUCKETS = {
  s3: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
  gs: /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/,
};

function objectStore(scheme: 'gs' | 's3', rest: string, uri: string): SourceUri {
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const pattern = slash < 0 ? '' : rest.slice(slash + 1);
  const refuse = (reason: string): SourceUri => ({ kind: 'refused', reason: `${scheme}:// ${reason}` });
  if (!BUCKETS[scheme].test(bucket) || bucket.includes('..') || bucket.split('.').some((part) => part.length > 63) || /^\d+\.\d+\.\d+\.\d+$/.test(bucket)) {
    return refuse(`needs a bucket name of 3-${scheme === 's3' ? 63 : 222} lowercase letters, digits${scheme === 'gs' ? ', _' : ''}, dots or hyphens, as in ${scheme}://bucket/prefix/*.csv.gz`);
  }
  // Object names are UTF-8 of at most 1024 bytes on both; control characters are refused (they
  // would reach logs and messages). A `.` or `..` segment names nothing a provider lists the way
  // a folder path would, so it is refused rather than interpreted.
  if (Buffer.byteLength(pattern) > 1024) return refuse('object names are at most 1024 bytes');
  if (/[\u0000-\u001f\u007f]/.test(pattern)) return refuse('object names contain no control characters');
  if (pattern.split('/').some((segment) => segment === '.' || segment === '..')) return refuse('object names here contain no . or .. segments');
  if (pattern.startsWith('/')) return refuse(`takes the object name right after the bucket: ${scheme}://${bucket}/${pattern.replace(/^\/+/, '')}`);
  return { kind: 'object_store', scheme, bucket, pattern, uri };
}

/**
 * `bq://project.dataset.table`: a project id (optionally `domain:`-scoped), a dataset of
 * letters, digits and `_`, a table of letters, digits, `_` and `-`.
 */
const BIGQUERY_TABLE = /^((?:[a-z][a-z0-9.-]{0,62}:)?[a-z][a-z0-9-]{4,28}[a-z0-9])\.([A-Za-z0-9_]{1,1024})\.([A-Za-z0-9_-]{1,1024})$/;

function bigQueryTable(rest: string, uri: string): SourceUri {
  const match = BIGQUERY_TABLE.exec(rest);
  if (!match) return { kind: 'refused', reason: 'bq:// names a table as bq://project.dataset.table (a project id of 6-30 lowercase letters, digits or hyphens; dataset and table of letters, digits and _)' };
  return { kind: 'bigquery_table', project: match[1]!, dataset: match[2]!, table: match[3]!, uri };
}
