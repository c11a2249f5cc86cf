import type { ParameterSpec } from '../pipelines/config-schema.ts';
import { InputError } from '../shared/errors.ts';
import { listOrgFiles } from './org-files.ts';
import { orgFolder } from './org-folder.ts';
import { parseSourceUri } from './source-uri.ts';

/**
 * At admission, before anything is read: every `source_uri` parameter of a run must name files
 * inside the org's folder, matches and links resolved. A path that names nothing yet is
 * admitted (the export may land before the run executes); the processor checks it all again
 * right before reading, so a link changed in between is refused there.
 */
export async function admitSources(
  declared: Record<string, ParameterSpec> | undefined,
  parameters: Record<string, unknown>,
  scope: { sourceRoot: string; orgSlug: string },
): Promise<void> {
  for (const [name, spec] of Object.entries(declared ?? {})) {
    const value = parameters[name];
    if (spec.type !== 'source_uri' || typeof value !== 'string' || !value.trim()) continue;
    const source = parseSourceUri(value.trim());
    if (source.kind === 'refused') throw new InputError(`parameter "${name}" ${source.reason}`, { field: name });
    if (source.kind !== 'org') continue;
    const listed = await listOrgFiles(source.path, orgFolder(scope.sourceRoot, scope.orgSlug));
    if (listed.kind === 'refused') throw new InputError(`parameter "${name}": ${listed.reason}`, { field: name });
  }
}
