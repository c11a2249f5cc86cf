import { FOCUS_TABLE } from '../../src/focus/export-focus.ts';
import type { SqlParams, Warehouse } from '../../src/warehouse/warehouse.ts';

/**
 * Generated FOCUS histories: the rows come from a SQL SELECT of (day DATE, service, sub_account,
 * resource, cost, tags JSON) and are written the way a load writes them, through
 * Warehouse.replacePartition: each charge day of the range of one load stream (pipeline,
 * credential) replaced at once, with the load's x_ingested_at.
 */
export interface HistoryLoad {
  orgSlug: string;
  env?: string;
  pipelineId?: string;
  credentialId?: string;
  runId?: string;
  /** x_SourceSystem, and ProviderName beside it. */
  sourceSystem?: string;
  providerName?: string;
  currency?: string;
  /** The charge days the load replaces, inclusive. */
  start: string;
  end: string;
  ingestedAt: Date;
  /** SELECT day, service, sub_account, resource, cost, tags: one row per FOCUS row; days outside start..end are refused by the write. */
  rows: string;
  params?: SqlParams;
}

export async function loadHistory(warehouse: Warehouse, load: HistoryLoad): Promise<number> {
  const dataset = `${load.orgSlug}_${load.env ?? 'dev'}`;
  await warehouse.ensureDataset(dataset);
  const source = load.sourceSystem ?? 'aws';
  const { rows } = await warehouse.replacePartition({
    dataset,
    table: FOCUS_TABLE,
    schema: 'focus/cost_data_standard_1_3',
    lineage: { orgSlug: load.orgSlug, pipelineId: load.pipelineId ?? `${source}_cost_billing`, credentialId: load.credentialId ?? 'default', runId: load.runId ?? crypto.randomUUID(), ingestedAt: load.ingestedAt },
    runDates: { start: load.start, end: load.end },
    runDateColumn: 'ChargePeriodStart',
    select: {
      sql: `SELECT CAST(g.day AS TIMESTAMPTZ) AS ChargePeriodStart, CAST(g.day AS TIMESTAMPTZ) + INTERVAL 1 DAY AS ChargePeriodEnd,
                   CAST(date_trunc('month', g.day) AS TIMESTAMPTZ) AS BillingPeriodStart, CAST(date_trunc('month', g.day) + INTERVAL 1 MONTH AS TIMESTAMPTZ) AS BillingPeriodEnd,
                   CAST(g.cost AS DECIMAL(38, 9)) AS BilledCost, CAST(g.cost AS DECIMAL(38, 9)) AS EffectiveCost,
                   CAST(g.cost AS DECIMAL(38, 9)) AS ListCost, CAST(g.cost AS DECIMAL(38, 9)) AS ContractedCost,
                   'billing-1' AS BillingAccountId, $h_currency AS BillingCurrency, 'Usage' AS ChargeCategory, $h_provider AS InvoiceIssuerName,
                   'Compute' AS ServiceCategory, g.service AS ServiceName, $h_provider AS ServiceProviderName, $h_provider AS ProviderName,
                   CAST(g.sub_account AS VARCHAR) AS SubAccountId, CAST(g.resource AS VARCHAR) AS ResourceId, CAST(g.tags AS JSON) AS Tags,
                   $h_source AS x_SourceSystem, 'provider_reported' AS x_CostSource
              FROM (${load.rows}) AS g`,
      params: { ...load.params, h_currency: load.currency ?? 'USD', h_provider: load.providerName ?? source.toUpperCase(), h_source: source },
    },
  });
  return rows;
}

/** Days as a SQL row source `days(day)` from start to end inclusive. */
export const daysSql = (start: string, end: string) => `(SELECT CAST(unnest(generate_series(DATE '${start}', DATE '${end}', INTERVAL 1 DAY)) AS DATE) AS day) AS days`;

/**
 * A steady history: `services` services (svc-01 ...), each on its own resource in one of three
 * sub-accounts, costing `base` a day each plus a deterministic wobble of up to `wobble`
 * (so the median absolute deviation is not 0).
 */
export function steadyRows(start: string, end: string, options: { services?: number; base?: number; wobble?: number; tags?: string } = {}): string {
  const services = options.services ?? 5;
  return `SELECT days.day, 'svc-' || lpad(CAST(s AS VARCHAR), 2, '0') AS service, 'acct-' || CAST(s % 3 AS VARCHAR) AS sub_account,
                 'res-' || CAST(s AS VARCHAR) AS resource,
                 ${options.base ?? 100}${(options.wobble ?? 10) > 0 ? ` + (hash(days.day, s) % ${(options.wobble ?? 10) * 100}) / 100.0` : ''} AS cost,
                 ${options.tags ?? 'NULL'} AS tags
            FROM ${daysSql(start, end)}, range(1, ${services + 1}) AS t(s)`;
}
