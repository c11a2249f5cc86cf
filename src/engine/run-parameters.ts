import type { PipelineConfig, ParameterSpec } from '../pipelines/config-schema.ts';
import { addDays, isIsoDate } from '../shared/clock.ts';
import { InputError } from '../shared/errors.ts';
import { parseSourceUri } from '../sources/source-uri.ts';

const RESERVED = new Set(['date', 'start_date', 'end_date', 'credential_id']);

export interface ResolvedParameters {
  startDate: string;
  endDate: string;
  credentialId: string;
  /** Everything stored with the run: the dates, the credential and the declared parameters. */
  parameters: Record<string, string | number | boolean>;
}

/**
 * Checks a run request's body against the pipeline's declared parameters. The date range
 * defaults to yesterday (a day's billing is complete the day after), `date` is a one-day
 * range, and the range is bounded so one request cannot ask for years of extraction.
 */
export function resolveRunParameters(pipeline: PipelineConfig, body: Record<string, unknown>, today: string, maxRangeDays: number): ResolvedParameters {
  const { date, start_date: start, end_date: end } = body;
  for (const [field, value] of Object.entries({ date, start_date: start, end_date: end })) {
    if (value !== undefined && !isIsoDate(value)) {
      const shaped = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value);
      throw new InputError(shaped ? `${field} ${value} does not exist: there is no such day in the calendar` : `${field} must be a date as YYYY-MM-DD, got ${JSON.stringify(value)}`, { field });
    }
  }
  if (date !== undefined && (start !== undefined || end !== undefined)) throw new InputError('give either date or start_date/end_date, not both', { field: 'date' });
  if ((start === undefined) !== (end === undefined)) throw new InputError(`${start === undefined ? 'start_date' : 'end_date'} is required with ${start === undefined ? 'end_date' : 'start_date'}`, { field: start === undefined ? 'start_date' : 'end_date' });
  const startDate = (date ?? start ?? addDays(today, -1)) as string;
  const endDate = (date ?? end ?? startDate) as string;
  if (startDate > endDate) throw new InputError(`start_date ${startDate} is after end_date ${endDate}`, { field: 'start_date' });
  if (addDays(startDate, maxRangeDays - 1) < endDate) throw new InputError(`the range ${startDate}..${endDate} is longer than ${maxRangeDays} days`, { field: 'end_date' });

  const credentialId = body.credential_id ?? 'default';
  if (typeof credentialId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(credentialId)) throw new InputError('credential_id must be 1-64 letters, digits, _ or -', { field: 'credential_id' });

  const declared = pipeline.parameters ?? {};
  const parameters: ResolvedParameters['parameters'] = { start_date: startDate, end_date: endDate, credential_id: credentialId };
  for (const [name, value] of Object.entries(body)) {
    if (RESERVED.has(name)) continue;
    const spec = declared[name];
    if (!spec) throw new InputError(`unknown parameter "${name}"; ${pipeline.route} accepts ${[...RESERVED, ...Object.keys(declared)].join(', ')}`, { field: name });
    parameters[name] = checkParameter(name, value, spec);
  }
  for (const [name, spec] of Object.entries(declared)) {
    if (parameters[name] !== undefined) continue;
    if (spec.default !== undefined) parameters[name] = spec.default;
    else if (spec.required) throw new InputError(`parameter "${name}" is required`, { field: name });
  }
  return { startDate, endDate, credentialId, parameters };
}

function checkParameter(name: string, value: unknown, spec: ParameterSpec): string | number | boolean {
  const shown = JSON.stringify(value) ?? String(value);
  // A 10 KB value is named by its start, not echoed whole.
  const fail = (expected: string) => new InputError(`parameter "${name}" must be ${expected}, got ${shown.length > 60 ? `${shown.slice(0, 60)}…` : shown}`, { field: name });
  let checked: string | number | boolean;
  switch (spec.type) {
    case 'date':
      if (!isIsoDate(value)) throw fail('a date as YYYY-MM-DD');
      checked = value;
      break;
    case 'integer':
      if (!Number.isInteger(value)) throw fail('an integer');
      checked = value as number;
      break;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw fail('a number');
      checked = value;
      break;
    case 'boolean':
      if (typeof value !== 'boolean') throw fail('true or false');
      checked = value;
      break;
    case 'source_uri': {
      // Its spelling only; admitSources then checks the files themselves against the org's folder.
      if (typeof value !== 'string' || value.length > 1000) throw fail('a string of at most 1000 characters');
      const source = value.trim() ? parseSourceUri(value.trim()) : undefined;
      if (source?.kind === 'refused') throw new InputError(`parameter "${name}" ${source.reason}`, { field: name });
      checked = value;
      break;
    }
    default:
      if (typeof value !== 'string' || value.length > (spec.maxLength ?? 1000)) throw fail(`a string of at most ${spec.maxLength ?? 1000} characters`);
      if (spec.pattern && !new RegExp(spec.pattern).test(value)) throw fail(`a string matching ${spec.pattern}`);
      checked = value;
  }
  // Stored with the run as jsonb, which refuses NUL: a database error, and a 500, before.
  if (typeof checked === 'string' && checked.includes('\u0000')) throw fail('a string without NUL characters');
  if (typeof checked === 'number' && spec.minimum !== undefined && checked < spec.minimum) throw fail(`at least ${spec.minimum}`);
  if (typeof checked === 'number' && spec.maximum !== undefined && checked > spec.maximum) throw fail(`at most ${spec.maximum}`);
  if (spec.enum && !spec.enum.includes(checked as string | number)) throw fail(`one of ${spec.enum.join(', ')}`);
  return checked;
}
