/**
 * Runs the BigQuery form of a procedure through ZetaSQL the way the warehouse runs it: the file
 * read and its templates resolved as procedure-executor.ts does, split into statements, each
 * analysed against the org dataset's catalog, and a SELECT evaluated over rows taken from the
 * DuckDB warehouse, so both dialects see the same input. Rows are compared in a canonical form.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { focusFileTableExpression } from '../../src/focus/check-focus-file.ts';
import type { RuleResult, SqlRunner } from '../../src/focus/check-focus-table.ts';
import { resolveSqlTemplates, sqlIdentifiers } from '../../src/pipelines/templates.ts';
import { splitStatements } from '../../src/warehouse/split-statements.ts';
import { loadTableSchema } from '../../src/warehouse/table-schema.ts';
import type { SqlParams } from '../../src/warehouse/warehouse.ts';
import type { ZetaSql } from '../support/zetasql-service.ts';
import { CONFIGS } from '../support/test-app.ts';
import { analyzerOptions, catalogProto, decode, paramValues, parseRoutine, tableContent, type BqColumn, type BqRoutine, type BqTable } from './zetasql-catalog.ts';

type Proto = Record<string, unknown>;
export type Query = (sql: string) => Promise<Record<string, unknown>[]>;

/** The statements of `configs/system/procedures/{procedure}.{dialect}.sql`, templates resolved for an org dataset. */
export async function procedureStatements(procedure: string, dialect: 'duckdb' | 'bigquery', variables: Record<string, string>): Promise<string[]> {
  const script = await readFile(join(CONFIGS, 'system', 'procedures', `${procedure}.${dialect}.sql`), 'utf8');
  return splitStatements(resolveSqlTemplates(script, sqlIdentifiers(variables), procedure));
}

export async function routinesOf(procedure: string, variables: Record<string, string>): Promise<BqRoutine[]> {
  return (await procedureStatements(procedure, 'bigquery', variables)).map(parseRoutine);
}

/** A table of the org dataset from its schema file (lineage columns included), as BigQuery types it. */
export async function schemaTable(dataset: string, table: string, schema: string): Promise<BqTable> {
  const { fields } = await loadTableSchema(CONFIGS, schema);
  return { name: `${dataset}.${table}`, columns: fields.map((f) => ({ name: f.name, type: f.type })) };
}

export interface BigQueryDialect {
  /** Resolves one statement; throws ZetaSQL's message. */
  analyze(sql: string, params: SqlParams): Promise<void>;
  /** Evaluates a query over the tables' rows; rows keyed by output column name, values as the DuckDB warehouse renders them. */
  evaluate(sql: string, params: SqlParams): Promise<{ columns: BqColumn[]; rows: Record<string, unknown>[] }>;
}

export function bigQueryDialect(zeta: ZetaSql, language: Proto, dataset: string, tables: readonly BqTable[], routines: readonly BqRoutine[]): BigQueryDialect {
  const catalog = catalogProto(language, dataset, tables, routines);
  return {
    async analyze(sql, params) {
      await zeta.call('analyze', { sqlStatement: sql, options: analyzerOptions(language, params), simpleCatalog: catalog });
    },
    async evaluate(sql, params) {
      const response = await zeta.call<{ content?: { tableData?: { row?: { cell?: Proto[] }[] } }; prepared?: { columns?: { name: string; type: Proto }[] } }>('evaluateQuery', {
        sql,
        options: analyzerOptions(language, params),
        simpleCatalog: catalog,
        tableContent: tableContent(tables),
        params: paramValues(params),
      });
      const columns = (response.prepared?.columns ?? []).map((c) => ({ name: c.name, type: String(c.type.typeKind) }));
      const rows = (response.content?.tableData?.row ?? []).map((row) => Object.fromEntries(columns.map((c, i) => [c.name, decode((row.cell ?? [])[i] ?? {})])));
      return { columns, rows };
    },
  };
}

/**
 * Rows in a form both engines agree on: numbers to 12 significant digits (costs are exact to 1e-9 in
 * both, unit prices are binary64 arithmetic in both, and DuckDB keeps 18 decimals of them where
 * BigQuery keeps 38), timestamps as UTC instants, JSON with sorted keys, booleans as booleans;
 * then sorted, since neither engine orders a SELECT without ORDER BY.
 */
export function canonicalRows(rows: readonly Record<string, unknown>[], columns: readonly string[], types: Readonly<Record<string, string>>): string[] {
  return rows.map((row) => JSON.stringify(columns.map((c) => canonical(row[c], types[c] ?? 'STRING')))).sort();
}

function canonical(value: unknown, type: string): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'NUMERIC':
    case 'BIGNUMERIC':
    case 'FLOAT64':
    case 'INT64': {
      const n = Number(value);
      if (!Number.isFinite(n)) return String(n);
      return n === 0 ? '0' : Number(n.toPrecision(12)).toString();
    }
    case 'TIMESTAMP':
      return new Date(String(value).replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00')).toISOString();
    case 'DATE':
      return String(value).slice(0, 10);
    case 'JSON':
      return sortedJson(typeof value === 'string' ? JSON.parse(value) : value);
    case 'BOOL':
      return value === true || value === 'true';
    default:
      return String(value);
  }
}

function sortedJson(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, sort(x)])) : v;
  return JSON.stringify(sort(value));
}

/**
 * A staged export as the BigQuery conversions read it: the contract's columns (configs/schemas/cloud),
 * NUMERIC as BIGNUMERIC (DuckDB stages them as DECIMAL(38, 12)) and JSON as its text, plus the
 * columns every staged load adds.
 */
export async function stagedTable(dataset: string, name: string, contract: string): Promise<BqTable> {
  const { fields } = JSON.parse(await readFile(join(CONFIGS, 'schemas', `${contract}.json`), 'utf8')) as { fields: { name: string; type: string }[] };
  const staged = (type: string) => ({ NUMERIC: 'BIGNUMERIC', JSON: 'STRING' })[type] ?? type;
  const constants = ['x_source_dataset', 'x_load_shape', 'x_source_file'].map((c) => ({ name: c, type: 'STRING' }));
  return { name: `${dataset}.${name}`, columns: [...fields.map((f) => ({ name: f.name, type: staged(f.type) })), ...constants] };
}

/** The checker's runner over a warehouse's query function. */
export const sqlRunner = (query: Query): SqlRunner => ({ all: (sql) => query(sql) });

/** The checker's runner over ZetaSQL: every statement analysed, then evaluated. */
export function zetaSqlRunner(dialect: BigQueryDialect): SqlRunner {
  return {
    async all(sql) {
      await dialect.analyze(sql, {});
      return (await dialect.evaluate(sql, {})).rows;
    },
  };
}

/** Rule for rule: the same status, failing rows and number of examples. */
export function assertSameChecks(bigquery: RuleResult[], duckdb: RuleResult[]) {
  const summary = (results: RuleResult[]) => results.map((r) => `${r.rule_id} ${r.status} ${r.failing_rows} rows ${r.examples.length} examples`);
  assert.deepEqual(summary(bigquery), summary(duckdb));
  assert.ok(duckdb.some((r) => r.status === 'pass'), 'the rules ran');
}

/** A FOCUS file as check-focus-file reads it: every column text, '', NULL and null as null. */
export async function readAsText(path: string): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(`SELECT * FROM ${focusFileTableExpression(path)}`);
    return { columns: reader.columnNames(), rows: reader.getRowObjectsJson() as Record<string, unknown>[] };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
