import { Type } from '@sinclair/typebox';
import { ProcessorError } from '../../shared/errors.ts';
import { LINEAGE_FIELDS, loadTableSchema } from '../../warehouse/table-schema.ts';
import { clientFor, HttpTuningSchema, type HttpDeps } from '../http/http-deps.ts';
import { rebatch } from '../http/pages.ts';
import { defineProcessor, type Processor, type ProcessorContext, type ProviderCredential } from '../types.ts';
import { anthropicCosts, anthropicUsage } from './anthropic-source.ts';
import { environmentBaseUrl, resolveBaseUrl } from './base-url.ts';
import { deepseekBalance } from './deepseek-source.ts';
import { ensureGenaiTables } from './genai-tables.ts';
import { replaceSnapshot } from './snapshot-write.ts';
import { geminiUsage } from './gemini-source.ts';
import { OPENAI_USAGE_ENDPOINTS, openaiCosts, openaiUsage } from './openai-source.ts';
import { GENAI_PROVIDERS, type BillingAccount, type ReportSource } from './source.ts';

const SOURCES: ReportSource[] = [openaiUsage, openaiCosts, anthropicUsage, anthropicCosts, geminiUsage, deepseekBalance];
const DEFAULT_REPORT = { openai: 'usage', anthropic: 'usage', gemini: 'usage', deepseek: 'balance' } as const;

const ConfigSchema = Type.Object(
  {
    provider: Type.Union(GENAI_PROVIDERS.map((provider) => Type.Literal(provider))),
    report: Type.Optional(Type.Union([Type.Literal('usage'), Type.Literal('costs'), Type.Literal('balance')], { description: 'usage (default), costs (OpenAI, Anthropic) or balance (DeepSeek)' })),
    endpoints: Type.Optional(Type.Array(Type.Union(Object.keys(OPENAI_USAGE_ENDPOINTS).map((name) => Type.Literal(name))), { minItems: 1, uniqueItems: true, description: 'OpenAI: the usage endpoints to read (all by default)' })),
    bucket_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 31, description: 'daily buckets per page (31, the APIs’ maximum, by default)' })),
    gcp_project_id: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]{4,61}[a-z0-9]$', description: 'Gemini: the GCP project (else the credential’s metadata project_id)' })),
    metrics: Type.Optional(
      Type.Array(Type.Object({ type: Type.String({ minLength: 1 }), direction: Type.Union([Type.Literal('input'), Type.Literal('output')]) }, { additionalProperties: false }), {
        minItems: 1,
        description: 'Gemini: Cloud Monitoring metrics and the tokens they count',
      }),
    ),
    base_url: Type.Optional(Type.String({ pattern: '^https?://', description: 'overrides the credential’s base_url and the environment' })),
    batch_size: Type.Optional(Type.Integer({ minimum: 100, maximum: 100_000 })),
    ...HttpTuningSchema,
  },
  { additionalProperties: false },
);

/** FOCUS BillingAccountId/Name: the provider organisation, from the credential's metadata. */
export function billingAccount(context: Pick<ProcessorContext, 'orgSlug'>, credential: ProviderCredential): BillingAccount {
  const { metadata } = credential;
  const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);
  const id = text(metadata.organization_id) ?? text(metadata.billing_account_id) ?? `${context.orgSlug}/${credential.provider}/${credential.credentialId}`;
  return { id, name: text(metadata.organization_name) ?? id };
}

/**
 * The seeds' genai.payg_usage: one report of a GenAI provider (usage, the provider's own cost
 * report, or DeepSeek's balance) into its raw table, streamed page by page, replacing the
 * run's days in one transaction after the last page; a snapshot report (the balance) adds its
 * snapshot to the earlier ones instead (snapshot-write.ts).
 */
export function paygUsage(deps: HttpDeps): Processor {
  return defineProcessor({
    type: 'genai.payg_usage',
    description: 'Extracts a GenAI provider’s usage report, cost report or balance from its admin API into the provider’s raw table.',
    configSchema: ConfigSchema,
    requiredCredentials: (config) => [config.provider],
    async run(config, context) {
      const report = config.report ?? DEFAULT_REPORT[config.provider];
      const source = SOURCES.find((candidate) => candidate.provider === config.provider && candidate.report === report);
      if (!source) {
        const offered = SOURCES.filter((candidate) => candidate.provider === config.provider).map((candidate) => candidate.report);
        throw new ProcessorError(`${config.provider} has no ${report} report; it offers ${offered.join(', ')}`, { retryable: false });
      }
      const credential = await context.credentials.get(config.provider);
      const exchange = { deps, signal: context.signal, logger: context.logger, orgSlug: context.orgSlug, credentialId: credential.credentialId };
      const client = clientFor(deps, {
        provider: config.provider,
        label: source.label,
        orgSlug: context.orgSlug,
        credentialId: credential.credentialId,
        auth: await source.authorize(credential, exchange),
        ...(source.headers ? { headers: source.headers } : {}),
        tuning: config,
        metadata: credential.metadata,
        signal: context.signal,
        logger: context.logger,
      });
      const baseUrl = resolveBaseUrl({ step: config.base_url, credential: credential.metadata.base_url, environment: environmentBaseUrl(context, config.provider), fallback: source.defaultBaseUrl });
      const schema = await loadTableSchema(context.configsDir, source.schema);
      const lineage = new Set(LINEAGE_FIELDS.map((field) => field.name));
      const columns = schema.fields.map((field) => field.name).filter((name) => !lineage.has(name));
      await ensureGenaiTables(context.warehouse, context.dataset);

      const rows = source.rows({
        client,
        baseUrl,
        startDate: context.startDate,
        endDate: context.endDate,
        account: billingAccount(context, credential),
        credential,
        options: config,
        now: deps.clock.now(),
        logger: context.logger,
      });
      const written = source.snapshotTimeColumn
        ? await replaceSnapshot(
            context.warehouse,
            { dataset: context.dataset, table: source.table, schema: source.schema, lineage: context.lineage, columns, dayColumn: source.runDateColumn, timeColumn: source.snapshotTimeColumn, rows },
            context.signal,
          )
        : await context.warehouse.replacePartitionFromBatches(
            {
              dataset: context.dataset,
              table: source.table,
              schema: source.schema,
              lineage: context.lineage,
              runDates: { start: context.startDate, end: context.endDate },
              columns,
              batches: rebatch(rows, config.batch_size ?? 5000),
              runDateColumn: source.runDateColumn,
            },
            context.signal,
          );
      context.logger.info({ provider: config.provider, report, table: source.table, rows: written.rows, host: baseUrl.host }, 'genai report extracted');
      return { rowsWritten: written.rows, tables: [`${context.dataset}.${source.table}`], details: { provider: config.provider, report } };
    },
  }) as Processor;
}
