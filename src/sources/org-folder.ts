import { join } from 'node:path';
import { InputError } from '../shared/errors.ts';

/** `{sourceRoot}/{org}`: the one folder below which org `orgSlug` may read files. */
export function orgFolder(sourceRoot: string, orgSlug: string): string {
  // Slugs are validated when an org is created; checked again because a slug such as `..`
  // or `a/b` here would widen the folder to other orgs'.
  if (!/^[a-z][a-z0-9_]*$/.test(orgSlug)) throw new InputError(`org slug ${JSON.stringify(orgSlug)} is not a slug`, { field: 'org' });
  return join(sourceRoot, orgSlug);
}
