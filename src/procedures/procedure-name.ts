import { InputError } from '../shared/errors.ts';
import { assertIdentifier } from '../warehouse/warehouse.ts';

/**
 * A procedure's name, as the seeds name them (`sp_{domain}_{step}_{what}`): it becomes an
 * identifier in SQL text (BigQuery `organizations.{name}`) and a file name, so it is held to
 * lowercase letters, digits and underscores, 128 at most, as migration 012's CHECK.
 */
export const PROCEDURE_NAME_PATTERN = '^sp_[a-z][a-z0-9_]{0,124}$';
const PROCEDURE_NAME = new RegExp(PROCEDURE_NAME_PATTERN);

export function isProcedureName(name: string): boolean {
  return PROCEDURE_NAME.test(name);
}

/** The name, checked again where it is used (the route's schema checks it first). */
export function procedureName(name: string): string {
  if (!isProcedureName(name)) throw new InputError(`procedure name "${name.slice(0, 130)}" must be sp_ then lowercase letters, digits and underscores (128 at most), such as sp_genai_1_consolidate_usage_daily`, { field: 'name' });
  return assertIdentifier('procedure', name);
}
