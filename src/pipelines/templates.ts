import { addDays } from '../shared/clock.ts';
import { InputError } from '../shared/errors.ts';

/** `{{var}}`, `${var}` and `{var}`, the three spellings the seeds use (FR-PIP-006). */
const TEMPLATE = /\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}|\$\{([a-z_][a-z0-9_]*)\}|\{([a-z_][a-z0-9_]*)\}/gi;

export interface RunVariablesInput {
  orgSlug: string;
  env: string;
  projectId: string;
  runId: string;
  pipelineId: string;
  credentialId: string;
  startDate: string;
  endDate: string;
  /** The day the run was requested (UTC), for `today` and `yesterday`. */
  requestedOn: string;
  parameters: Record<string, unknown>;
}

/** Every variable a template may name; run parameters cannot shadow the built-in ones. */
export function runVariables(input: RunVariablesInput): Record<string, string> {
  const parameters = Object.fromEntries(Object.entries(input.parameters).map(([name, value]) => [name, String(value)]));
  return {
    ...parameters,
    org_slug: input.orgSlug,
    env: input.env,
    org_dataset: `${input.orgSlug}_${input.env}`,
    project_id: input.projectId,
    run_id: input.runId,
    pipeline_id: input.pipelineId,
    credential_id: input.credentialId,
    date: input.startDate,
    start_date: input.startDate,
    end_date: input.endDate,
    year: input.startDate.slice(0, 4),
    month: input.startDate.slice(5, 7),
    day: input.startDate.slice(8, 10),
    today: input.requestedOn,
    yesterday: addDays(input.requestedOn, -1),
  };
}

/**
 * Resolves templates through nested objects, arrays and strings. Every unknown variable is
 * an error naming it and where it is: an empty string in SQL would be a silent wrong result.
 */
export function resolveTemplates<T>(value: T, variables: Record<string, string>, path = 'config'): T {
  const unknown: string[] = [];
  const resolved = walk(value, variables, path, unknown);
  if (unknown.length > 0) throw new InputError(`Unknown template variable${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, { field: unknown[0] });
  return resolved as T;
}

function walk(value: unknown, variables: Record<string, string>, path: string, unknown: string[]): unknown {
  if (typeof value === 'string') return resolveString(value, variables, path, unknown);
  if (Array.isArray(value)) return value.map((item, i) => walk(item, variables, `${path}[${i}]`, unknown));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item, variables, `${path}.${key}`, unknown)]));
  }
  return value;
}

function resolveString(text: string, variables: Record<string, string>, path: string, unknown: string[]): string {
  return text.replace(TEMPLATE, (match, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c) as string;
    const found = variables[name];
    if (found === undefined) {
      unknown.push(`${name} (in ${path})`);
      return match;
    }
    return found;
  });
}
