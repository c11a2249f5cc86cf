import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProcessorError } from '../../shared/errors.ts';

/**
 * The columns a conversion reads from a staged export, as `configs/schemas/cloud/*.json` in the
 * project's table-schema format (name, type, mode, description) plus `aliases`: other canonical
 * names that fill the column when a file lacks it (older spellings, e.g. Azure EA `Cost` for
 * `CostInBillingCurrency`). REQUIRED columns must be in the export (or an alias), `required_in` ones in
 * the listed shapes only; the others
 * are typed nulls when absent, so the conversion SQL binds every name it uses.
 */
export type ContractType = 'STRING' | 'NUMERIC' | 'FLOAT64' | 'TIMESTAMP' | 'BOOL' | 'JSON';

export interface ContractField {
  name: string;
  type: ContractType;
  /** Required in every shape of the export. */
  required: boolean;
  /** Required only in these shapes (`required_in`), e.g. OCI cost columns in the cost report, not the usage report. */
  requiredIn: string[];
  aliases: string[];
}

export interface ExportContract {
  /** Relative to the configs folder (`schemas/cloud/aws_cur.json`): run errors name no server path. */
  file: string;
  fields: ContractField[];
}

const TYPES = new Set<string>(['STRING', 'NUMERIC', 'FLOAT64', 'TIMESTAMP', 'BOOL', 'JSON']);

export async function loadExportContract(configsDir: string, name: string): Promise<ExportContract> {
  const file = `schemas/${name}.json`;
  let parsed: { fields?: unknown };
  try {
    parsed = JSON.parse(await readFile(join(configsDir, file), 'utf8')) as { fields?: unknown };
  } catch (cause) {
    throw new ProcessorError(`export contract ${file} cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'invalid JSON'})`, { retryable: false, cause });
  }
  if (!Array.isArray(parsed.fields)) throw new ProcessorError(`${file}: "fields" must be an array`, { retryable: false });
  const fields = parsed.fields.map((raw: Record<string, unknown>, i): ContractField => {
    const { name: fieldName, type, mode, aliases, required_in: requiredIn } = raw;
    if (typeof fieldName !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(fieldName)) throw new ProcessorError(`${file}: fields[${i}].name must be an identifier`, { retryable: false });
    if (typeof type !== 'string' || !TYPES.has(type)) throw new ProcessorError(`${file}: fields[${i}].type must be one of ${[...TYPES].join(', ')}`, { retryable: false });
    return { name: fieldName, type: type as ContractType, required: mode === 'REQUIRED', requiredIn: Array.isArray(requiredIn) ? requiredIn.map(String) : [], aliases: Array.isArray(aliases) ? aliases.map(String) : [] };
  });
  return { file, fields };
}
