import type { Static, TSchema } from '@sinclair/typebox';
import { Type, type StringOptions } from '@sinclair/typebox';
import { addDays } from '../shared/clock.ts';
import { InputError, ProcessorError } from '../shared/errors.ts';
import type { Warehouse } from '../warehouse/warehouse.ts';

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

/**
 * The only variables SQL text may name as templates: the service's own identifiers and the run's
 * validated dates, never a caller's run parameter (those are bound as `$name`). org_slug is a
 * slug, env and project_id come from the settings, credential_id is held to [A-Za-z0-9_-]{1,64}
 * at admission, run_id is generated, and the dates are validated days.
 */
export const SQL_IDENTIFIERS = ['org_slug', 'env', 'org_dataset', 'project_id', 'credential_id', 'pipeline_id', 'run_id', 'date', 'start_date', 'end_date', 'year', 'month', 'day', 'today', 'yesterday'] as const;
export type SqlIdentifierName = (typeof SQL_IDENTIFIERS)[number];

declare const sqlIdentifiersBrand: unique symbol;
/** The identifier variables of a run, and nothing else: the one input SQL templates accept. */
export type SqlIdentifiers = { readonly [K in SqlIdentifierName]: string } & { readonly [sqlIdentifiersBrand]: true };

/** A spliced value can never close a quote, open a comment or end a statement, whatever its source. */
const SAFE_IDENTIFIER_VALUE = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The identifiers of a run's variables (as `runVariables` builds them, where built-ins win over
 * parameters of the same name). Run parameters are not copied, so no SQL template can reach them.
 */
export function sqlIdentifiers(variables: Readonly<Record<string, string>>): SqlIdentifiers {
  const picked: Record<string, string> = {};
  for (const name of SQL_IDENTIFIERS) {
    const value = variables[name];
    if (value !== undefined) picked[name] = value;
  }
  return Object.freeze(picked) as SqlIdentifiers;
}

/**
 * Resolves the templates of SQL text (a procedure file, a step's query) with the run's
 * identifiers only. A template naming anything else, a run parameter above all, is an error
 * telling the author to bind it: the value would otherwise become SQL.
 */
export function resolveSqlTemplates(sql: string, identifiers: SqlIdentifiers, where: string): string {
  return sqlTemplateParts(sql, where)
    .map((part) => {
      if ('text' in part) return part.text;
      const value = identifiers[part.name] as string | undefined;
      if (value === undefined) throw new InputError(`SQL in ${where} names {${part.name}}, which this run has no value for`, { field: part.name });
      if (!SAFE_IDENTIFIER_VALUE.test(value)) throw new InputError(`SQL in ${where} names {${part.name}}, whose value is not an identifier (letters, digits, _ and - only)`, { field: part.name });
      return value;
    })
    .join('');
}

/**
 * SQL text cut at its identifier templates: the literal text, and between it the names spliced
 * there (resolveSqlTemplates puts the run's values in; a BigQuery procedure builds each statement
 * from its arguments). A template naming anything else is refused: its value would become SQL.
 */
export function sqlTemplateParts(sql: string, where: string): ({ text: string } | { name: SqlIdentifierName })[] {
  const parts: ({ text: string } | { name: SqlIdentifierName })[] = [];
  const refused = new Set<string>();
  let at = 0;
  for (const match of sql.matchAll(TEMPLATE)) {
    const name = (match[1] ?? match[2] ?? match[3]) as string;
    if (!(SQL_IDENTIFIERS as readonly string[]).includes(name)) {
      refused.add(name);
      continue;
    }
    if (match.index > at) parts.push({ text: sql.slice(at, match.index) });
    parts.push({ name: name as SqlIdentifierName });
    at = match.index + match[0].length;
  }
  if (refused.size > 0) {
    const names = [...refused];
    throw new InputError(
      `SQL in ${where} names ${names.map((name) => `{${name}}`).join(', ')} as a template: only the service's identifiers (${SQL_IDENTIFIERS.join(', ')}) are spliced into SQL text; bind a value as a parameter instead: ${names.map((name) => `$${name}`).join(', ')}`,
      { field: names[0] },
    );
  }
  if (at < sql.length) parts.push({ text: sql.slice(at) });
  return parts;
}

/** Marks a config field as SQL text: its templates resolve with the identifiers only (resolveStepConfig). */
const SQL_TEXT = 'x-sql-text';

const sqlString = (options: StringOptions) => Type.String({ minLength: 1, ...options, [SQL_TEXT]: true });

/**
 * The schema of a step config field holding SQL (a query, a reconciliation's SELECT): one string
 * in the warehouse's dialect, or a form per dialect (`duckdb:`, `bigquery:`) for a pipeline that
 * runs on either warehouse, as the shipped ones do.
 */
export function sqlText(options: StringOptions = {}) {
  return Type.Union([
    sqlString(options),
    Type.Object(
      { duckdb: Type.Optional(sqlString({ description: "DuckDB's SQL ($params)" })), bigquery: Type.Optional(sqlString({ description: "BigQuery's SQL (@params)" })) },
      { additionalProperties: false, minProperties: 1, description: `${options.description ?? 'the SQL'}, in each warehouse's dialect` },
    ),
  ]);
}

export type SqlText = Static<ReturnType<typeof sqlText>>;

/** A sqlText field's SQL for the warehouse's dialect (one string is that dialect's); none is a step failure naming the field. */
export function sqlInDialect(text: SqlText, dialect: Warehouse['dialect'], field: string): string {
  if (typeof text === 'string') return text;
  const sql = text[dialect];
  if (sql === undefined) {
    throw new ProcessorError(`the step's ${field} has no ${dialect} form (it gives ${Object.keys(text).join(', ')}); this warehouse runs ${dialect} SQL: add \`${dialect}: |\` beside it`, { retryable: false });
  }
  return sql;
}

/**
 * Resolves a step's config: fields its processor's schema marks as SQL text (`sqlText()`) with
 * the run's identifiers only, every other field (a format, a source URI, a procedure's bound
 * `parameters`) with every variable, run parameters included.
 */
export function resolveStepConfig<T>(config: T, schema: TSchema | undefined, variables: Record<string, string>, path = 'config'): T {
  let identifiers: SqlIdentifiers | undefined;
  const unknown: string[] = [];
  const visit = (value: unknown, schemas: TSchema[], at: string): unknown => {
    if (typeof value === 'string') {
      if (!schemas.some((candidate) => candidate[SQL_TEXT] === true)) return resolveString(value, variables, at, unknown);
      identifiers ??= sqlIdentifiers(variables);
      return resolveSqlTemplates(value, identifiers, at);
    }
    if (Array.isArray(value)) return value.map((item, i) => visit(item, schemas.flatMap((candidate) => childSchemas(candidate, undefined)), `${at}[${i}]`));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, visit(item, schemas.flatMap((candidate) => childSchemas(candidate, key)), `${at}.${key}`)]));
    }
    return value;
  };
  const resolved = visit(config, schema ? alternatives(schema) : [], path);
  if (unknown.length > 0) throw new InputError(`Unknown template variable${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, { field: unknown[0] });
  return resolved as T;
}

/** The schemas a value may match: the members of a union, flattened. */
function alternatives(schema: TSchema): TSchema[] {
  const members = (schema.anyOf ?? schema.oneOf ?? schema.allOf) as TSchema[] | undefined;
  return members ? members.flatMap(alternatives) : [schema];
}

/** The schemas of a property (`key`) or of an array's items (no key). */
function childSchemas(schema: TSchema, key: string | undefined): TSchema[] {
  const found: TSchema[] = [];
  if (key === undefined) {
    const items = schema.items as TSchema | TSchema[] | undefined;
    if (items) found.push(...(Array.isArray(items) ? items : [items]));
  } else {
    const property = (schema.properties as Record<string, TSchema> | undefined)?.[key];
    if (property) found.push(property);
    for (const pattern of Object.values((schema.patternProperties as Record<string, TSchema> | undefined) ?? {})) found.push(pattern);
    if (typeof schema.additionalProperties === 'object') found.push(schema.additionalProperties as TSchema);
  }
  return found.flatMap(alternatives);
}
