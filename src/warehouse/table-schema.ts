import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../shared/errors.ts';

/**
 * Column types of the project's table-schema files, named as BigQuery names them. NUMERIC is
 * money (9 decimals); BIGNUMERIC is unit prices and quantities, whose product must stay exact to
 * the cent for a price of 1e-12 per unit times 1e12 units as for 1e9 per unit times 1e-12 units.
 */
export const FIELD_TYPES = ['STRING', 'INT64', 'FLOAT64', 'NUMERIC', 'BIGNUMERIC', 'BOOL', 'DATE', 'TIMESTAMP', 'JSON'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export interface Field {
  name: string;
  type: FieldType;
  mode: 'REQUIRED' | 'NULLABLE';
  description?: string;
}

export interface TableSchema {
  description?: string;
  fields: Field[];
}

/** DESIGN.md: these end every output table, in this order. */
export const LINEAGE_FIELDS: readonly Field[] = [
  { name: 'x_org_slug', type: 'STRING', mode: 'REQUIRED' },
  { name: 'x_pipeline_id', type: 'STRING', mode: 'REQUIRED' },
  { name: 'x_credential_id', type: 'STRING', mode: 'REQUIRED' },
  { name: 'x_pipeline_run_date', type: 'DATE', mode: 'REQUIRED' },
  { name: 'x_run_id', type: 'STRING', mode: 'REQUIRED' },
  { name: 'x_ingested_at', type: 'TIMESTAMP', mode: 'REQUIRED' },
  { name: 'x_ingestion_date', type: 'DATE', mode: 'REQUIRED' },
];

const LINEAGE_NAMES = new Set(LINEAGE_FIELDS.map((field) => field.name));
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Reads `configs/schemas/<name>.json`, checks it, and appends the lineage columns. */
export async function loadTableSchema(configsDir: string, name: string): Promise<TableSchema> {
  if (!/^[a-z0-9_]+(\/[a-z0-9_]+)*$/.test(name)) throw new InputError(`Table schema name "${name}" must be a path of lowercase segments`, { field: 'schema' });
  const file = join(configsDir, 'schemas', `${name}.json`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (cause) {
    throw new InputError(`Table schema ${name}: cannot read ${file}: ${(cause as Error).message}`, { field: 'schema', cause });
  }
  const schema = checkTableSchema(parsed, file);
  return { ...schema, fields: [...schema.fields, ...LINEAGE_FIELDS] };
}

export function checkTableSchema(value: unknown, file: string): TableSchema {
  const fields = (value as { fields?: unknown })?.fields;
  if (!Array.isArray(fields) || fields.length === 0) throw new InputError(`${file}: "fields" must be a non-empty array`, { field: 'fields' });
  const seen = new Set<string>();
  fields.forEach((field: Partial<Field>, i) => {
    const where = `${file}: fields[${i}]`;
    if (typeof field.name !== 'string' || !IDENTIFIER.test(field.name)) throw new InputError(`${where}.name must be an identifier`, { field: `fields[${i}].name` });
    if (LINEAGE_NAMES.has(field.name)) throw new InputError(`${where}.name: ${field.name} is a lineage column, appended by the warehouse`, { field: `fields[${i}].name` });
    if (seen.has(field.name.toLowerCase())) throw new InputError(`${where}.name: duplicate column ${field.name}`, { field: `fields[${i}].name` });
    seen.add(field.name.toLowerCase());
    if (!FIELD_TYPES.includes(field.type as FieldType)) throw new InputError(`${where}.type must be one of ${FIELD_TYPES.join(', ')}, got ${String(field.type)}`, { field: `fields[${i}].type` });
    if (field.mode !== undefined && field.mode !== 'REQUIRED' && field.mode !== 'NULLABLE') throw new InputError(`${where}.mode must be REQUIRED or NULLABLE`, { field: `fields[${i}].mode` });
  });
  return { ...(value as TableSchema), fields: fields.map((field: Field) => ({ ...field, mode: field.mode ?? 'NULLABLE' })) };
}
