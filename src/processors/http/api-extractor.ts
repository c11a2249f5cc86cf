import { Type, type Static } from '@sinclair/typebox';
import { ProcessorError } from '../../shared/errors.ts';
import { loadTableSchema, LINEAGE_FIELDS } from '../../warehouse/table-schema.ts';
import { defineProcessor, type Processor } from '../types.ts';
import { authSchema } from './auth.ts';
import { clientFor, HttpTuningSchema, type HttpDeps } from './http-deps.ts';
import { getField, type Scoped } from './json-path.ts';
import { pages, rebatch } from './pages.ts';
import { paginator, PaginationSchema } from './pagination.ts';

const FieldSchema = Type.Union([
  Type.String({ description: 'path in the record; ../ climbs to the enclosing record' }),
  Type.Object(
    {
      path: Type.String(),
      as: Type.Union([Type.Literal('text'), Type.Literal('json'), Type.Literal('unix_timestamp'), Type.Literal('unix_date'), Type.Literal('date')], {
        description: 'unix_timestamp / unix_date: seconds since 1970 to an ISO timestamp / day; date: the day of an ISO timestamp',
      }),
    },
    { additionalProperties: false },
  ),
]);

const ConfigSchema = Type.Object(
  {
    url: Type.String({ minLength: 1, description: 'absolute URL, or a path under the credential’s base_url' }),
    query: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Array(Type.String())]))),
    headers: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]+$' }), Type.String())),
    auth: authSchema({ provider: Type.String({ pattern: '^[a-z][a-z0-9_]{1,40}$', description: 'credential provider key' }) }),
    pagination: Type.Optional(PaginationSchema),
    record_path: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })], { description: 'where the records are: "data", or ["data", "results"] for nested arrays' })),
    fields: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), FieldSchema, { description: 'column: where its value is; by default the record key of the column’s name' })),
    destination: Type.Object(
      {
        table: Type.String({ pattern: '^[a-z][a-z0-9_]*$' }),
        schema: Type.String({ pattern: '^[a-z0-9_]+(/[a-z0-9_]+)*$' }),
        batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
        run_date_column: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'column giving each row’s partition day; the run’s start date by default' })),
      },
      { additionalProperties: false },
    ),
    max_pages: Type.Optional(Type.Integer({ minimum: 1 })),
    ...HttpTuningSchema,
  },
  { additionalProperties: false },
);
type Config = Static<typeof ConfigSchema>;
type Field = Static<typeof FieldSchema>;

/**
 * The seeds' generic.api_extractor: any JSON REST listing into a warehouse table. Pages are
 * requested one at a time and streamed to the warehouse in batches (one page in memory at a
 * time); the partition is replaced only after the last page, in one transaction, so a failure
 * anywhere leaves the previous rows and none of this attempt's.
 */
export function apiExtractor(deps: HttpDeps): Processor {
  return defineProcessor({
    type: 'generic.api_extractor',
    description: 'Extracts a paginated JSON REST API into a warehouse table, with the org’s credential, a shared rate limit and retries.',
    configSchema: ConfigSchema,
    requiredCredentials: (config) => [config.auth.provider],
    async run(config, context) {
      const credential = await context.credentials.get(config.auth.provider);
      const url = requestUrl(config, credential.metadata.base_url);
      const schema = await loadTableSchema(context.configsDir, config.destination.schema);
      const lineage = new Set(LINEAGE_FIELDS.map((field) => field.name));
      const columns = schema.fields.map((field) => field.name).filter((name) => !lineage.has(name));
      const { provider: _provider, ...auth } = config.auth;
      const client = clientFor(deps, {
        provider: config.auth.provider,
        label: config.auth.provider,
        orgSlug: context.orgSlug,
        credentialId: credential.credentialId,
        auth: { config: auth, secret: credential.secret },
        ...(config.headers ? { headers: config.headers } : {}),
        tuning: config,
        metadata: credential.metadata,
        signal: context.signal,
        logger: context.logger,
      });
      const recordPath = config.record_path === undefined ? [] : Array.isArray(config.record_path) ? config.record_path : [config.record_path];
      let pageCount = 0;
      async function* batches() {
        for await (const page of pages({ client, paginator: paginator(config.pagination ?? { type: 'none' }), url, recordPath, provider: config.auth.provider, ...(config.max_pages ? { maxPages: config.max_pages } : {}) })) {
          pageCount = page.number;
          yield page.records.map((record) => toRow(record, columns, config.fields ?? {}));
        }
      }
      const { rows, staged } = await context.warehouse.replacePartitionFromBatches(
        {
          dataset: context.dataset,
          table: config.destination.table,
          schema: config.destination.schema,
          lineage: context.lineage,
          runDates: { start: context.startDate, end: context.endDate },
          columns,
          batches: rebatch(batches(), config.destination.batch_size ?? 5000),
          ...(config.destination.run_date_column ? { runDateColumn: config.destination.run_date_column } : {}),
        },
        context.signal,
      );
      context.logger.info({ table: config.destination.table, rows, staged, pages: pageCount, path: url.pathname }, 'api extracted');
      return { rowsWritten: rows, tables: [`${context.dataset}.${config.destination.table}`], details: { pages: pageCount } };
    },
  }) as Processor;
}

function requestUrl(config: Config, baseUrl: unknown): URL {
  let url: URL;
  if (/^https?:\/\//.test(config.url)) url = new URL(config.url);
  else if (typeof baseUrl === 'string' && baseUrl) url = new URL(baseUrl.replace(/\/+$/, '') + '/' + config.url.replace(/^\/+/, ''));
  else throw new ProcessorError(`url "${config.url}" is a path, and the credential has no base_url`, { retryable: false });
  for (const [name, value] of Object.entries(config.query ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(item));
  }
  return url;
}

function toRow(scoped: Scoped, columns: string[], fields: Record<string, Field>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const column of columns) {
    const field = fields[column] ?? column;
    const spec = typeof field === 'string' ? { path: field, as: undefined } : field;
    row[column] = convert(getField(scoped, spec.path), spec.as);
  }
  return row;
}

function convert(value: unknown, as: 'text' | 'json' | 'unix_timestamp' | 'unix_date' | 'date' | undefined): unknown {
  if (value === null || value === undefined) return null;
  switch (as) {
    case 'unix_timestamp':
      return new Date(Number(value) * 1000).toISOString();
    case 'unix_date':
      return new Date(Number(value) * 1000).toISOString().slice(0, 10);
    case 'date':
      return new Date(String(value)).toISOString().slice(0, 10);
    case 'json':
      return JSON.stringify(value);
    case 'text':
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
    default:
      return value;
  }
}
