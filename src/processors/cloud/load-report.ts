import { Type } from '@sinclair/typebox';
import { FOCUS_TABLE } from '../../focus/export-focus.ts';
import type { QualityResult } from '../../shared/quality.ts';
import type { SqlParams } from '../../warehouse/warehouse.ts';
import { defineProcessor, type ProcessorContext } from '../types.ts';

/** Per charge day, what the last load of a pipeline and credential wrote: the base of the next restatement report. */
export const LOAD_DAYS_TABLE = 'cloud_billing_load_days';
const LOAD_DAYS_SCHEMA = 'cloud/cloud_billing_load_days';

/**
 * Runs after a cloud conversion and records, with the run's quality results:
 *
 * - the restatement: per charge day of the run, the rows and costs it wrote against those of
 *   the previous load of the same days (new, restated, removed; unchanged days are counted),
 *   kept in `cloud_billing_load_days` for the next load. Re-pulling month-to-date shows exactly
 *   which days the provider restated and by how much;
 * - services without a category mapping (the conversion's "Other" fallback) as a warning;
 * - units outside the unit mappings (kept as the export wrote them) as a warning.
 *
 * (The conversion step reconciled the rows, in total and per billing period, before they committed.)
 */
export const loadReport = defineProcessor({
  type: 'cloud.load_report',
  description: 'Records what a cloud billing load changed per day and its unmapped services.',
  configSchema: Type.Object({}, { additionalProperties: false }),
  async run(_config, context) {
    const { warehouse, dataset, lineage } = context;
    const focus = `${dataset}.${FOCUS_TABLE}`;
    const key = { x_org_slug: lineage.orgSlug, x_pipeline_id: lineage.pipelineId, x_credential_id: lineage.credentialId };
    const params: SqlParams = { ...context.variables, ...key, x_run_id: lineage.runId, x_start: context.startDate, x_end: context.endDate };
    const runRows = 'x_org_slug = $x_org_slug AND x_pipeline_id = $x_pipeline_id AND x_credential_id = $x_credential_id AND x_run_id = $x_run_id';
    const quality: QualityResult[] = [];

    const previous = (await warehouse.hasTable(dataset, LOAD_DAYS_TABLE))
      ? `SELECT charge_date, row_count, billed_cost, effective_cost, x_run_id FROM ${dataset}.${LOAD_DAYS_TABLE}
          WHERE x_org_slug = $x_org_slug AND x_pipeline_id = $x_pipeline_id AND x_credential_id = $x_credential_id
            AND charge_date BETWEEN CAST($x_start AS DATE) AND CAST($x_end AS DATE)`
      : `SELECT NULL::DATE AS charge_date, NULL::BIGINT AS row_count, NULL::DECIMAL(38, 9) AS billed_cost, NULL::DECIMAL(38, 9) AS effective_cost, NULL::VARCHAR AS x_run_id WHERE false`;
    const days = await warehouse.query(
      `WITH cur AS (
         SELECT x_pipeline_run_date AS charge_date, count(*) AS row_count, sum(BilledCost) AS billed_cost, sum(EffectiveCost) AS effective_cost
           FROM ${focus} WHERE ${runRows} GROUP BY 1),
       prev AS (${previous})
       SELECT CAST(coalesce(c.charge_date, p.charge_date) AS VARCHAR) AS charge_date,
              p.row_count::BIGINT AS previous_rows, c.row_count::BIGINT AS rows,
              CAST(p.billed_cost AS VARCHAR) AS previous_billed_cost, CAST(c.billed_cost AS VARCHAR) AS billed_cost,
              CAST(CAST(coalesce(c.billed_cost, 0) - coalesce(p.billed_cost, 0) AS DECIMAL(38, 9)) AS VARCHAR) AS billed_cost_change,
              CAST(p.effective_cost AS VARCHAR) AS previous_effective_cost, CAST(c.effective_cost AS VARCHAR) AS effective_cost,
              p.x_run_id AS previous_run_id,
              CASE WHEN p.charge_date IS NULL THEN 'new' WHEN c.charge_date IS NULL THEN 'removed'
                   WHEN p.row_count <> c.row_count OR p.billed_cost <> c.billed_cost OR p.effective_cost <> c.effective_cost THEN 'restated'
                   ELSE 'unchanged' END AS change
         FROM cur c FULL OUTER JOIN prev p ON c.charge_date = p.charge_date
        ORDER BY 1`,
      params,
      context.signal,
    );
    const count = (change: string) => days.filter((day) => day.change === change).length;
    quality.push({
      check_kind: 'restatement',
      rule_id: 'LOAD-CHANGES',
      level: 'INFO',
      status: count('restated') + count('removed') > 0 ? 'warn' : 'pass',
      description: `${count('new')} new, ${count('restated')} restated, ${count('removed')} removed and ${count('unchanged')} unchanged charge day(s) against the previous load`,
      failing_rows: 0,
      details: { new: count('new'), restated: count('restated'), removed: count('removed'), unchanged: count('unchanged') },
    });
    for (const day of days.filter((d) => d.change !== 'unchanged')) {
      const { change, charge_date: date } = day;
      quality.push({
        check_kind: 'restatement',
        rule_id: `LOAD-DAY-${String(date)}`,
        level: 'INFO',
        status: change === 'new' ? 'pass' : 'warn',
        description:
          change === 'new'
            ? `${String(date)}: first load, ${String(day.rows)} rows, BilledCost ${String(day.billed_cost)}`
            : `${String(date)} ${String(change)}: rows ${String(day.previous_rows)} -> ${String(day.rows ?? 0)}, BilledCost ${String(day.previous_billed_cost)} -> ${String(day.billed_cost ?? '0')} (${String(day.billed_cost_change)})`,
        failing_rows: 0,
        details: day,
      });
    }

    await warehouse.replacePartition(
      {
        dataset,
        table: LOAD_DAYS_TABLE,
        schema: LOAD_DAYS_SCHEMA,
        lineage,
        runDates: { start: context.startDate, end: context.endDate },
        runDateColumn: 'charge_date',
        select: {
          sql: `SELECT x_pipeline_run_date AS charge_date, count(*) AS row_count, sum(BilledCost) AS billed_cost, sum(EffectiveCost) AS effective_cost
                  FROM ${focus} WHERE ${runRows} GROUP BY 1`,
          params,
        },
      },
      context.signal,
    );

    const unmapped = await warehouse.query(
      `SELECT ServiceName AS service_name, count(*)::BIGINT AS rows FROM ${focus} WHERE ${runRows} AND x_UnmappedService GROUP BY 1 ORDER BY 2 DESC, 1`,
      params,
      context.signal,
    );
    const unmappedRows = unmapped.reduce((sum, row) => sum + Number(row.rows), 0);
    quality.push({
      check_kind: 'service_mapping',
      rule_id: 'UNMAPPED-SERVICES',
      level: 'SHOULD',
      status: unmapped.length > 0 ? 'warn' : 'pass',
      description:
        unmapped.length > 0
          ? `${unmapped.length} service(s) have no ServiceCategory mapping and were categorised Other / Other (Other): ${unmapped.slice(0, 10).map((row) => String(row.service_name)).join(', ')}`
          : 'every service has a ServiceCategory mapping',
      failing_rows: unmappedRows,
      ...(unmapped.length > 0 ? { details: { services: unmapped.slice(0, 50) } } : {}),
    });

    quality.push(await unmappedUnits(context, focus, runRows, params));

    context.recordQuality(quality);
    context.logger.info({ days: days.length, restated: count('restated'), unmapped: unmapped.length }, 'load report recorded');
    return { rowsWritten: days.filter((day) => day.change !== 'removed').length, tables: [`${dataset}.${LOAD_DAYS_TABLE}`], details: { restated: count('restated'), new: count('new'), removed: count('removed') } };
  },
});


/**
 * PricingUnit and ConsumedUnit values of the run that no unit mapping produces: the conversion
 * keeps a unit it has no row for as the export wrote it, so these are the provider's own
 * spellings, to add to configs/cloud/opendata/units.csv. A spend commitment's unit is a
 * currency code (not always the row's billing currency), and an RI's may be `Normalized <unit>`:
 * neither is a miss.
 */
async function unmappedUnits(context: ProcessorContext, focus: string, runRows: string, params: SqlParams): Promise<QualityResult> {
  const { warehouse, dataset } = context;
  const units = await warehouse.query(
    `WITH known AS (SELECT focus_unit AS unit FROM ${dataset}.cloud_units UNION SELECT unit FROM ${dataset}.cloud_azure_pricing_units),
          used AS (SELECT unnest([PricingUnit, ConsumedUnit]) AS unit, BillingCurrency FROM ${focus} WHERE ${runRows})
     SELECT unit, count(*)::BIGINT AS rows FROM used
      WHERE unit IS NOT NULL AND unit <> BillingCurrency AND NOT regexp_full_match(unit, '[A-Z]{3}') AND regexp_replace(unit, '^Normalized ', '') NOT IN (SELECT unit FROM known WHERE unit IS NOT NULL)
      GROUP BY 1 ORDER BY 2 DESC, 1`,
    params,
    context.signal,
  );
  return {
    check_kind: 'unit_mapping',
    rule_id: 'UNMAPPED-UNITS',
    level: 'SHOULD',
    status: units.length > 0 ? 'warn' : 'pass',
    description:
      units.length > 0
        ? `${units.length} unit(s) have no FOCUS UnitFormat mapping and were kept as the export wrote them: ${units.slice(0, 10).map((row) => String(row.unit)).join(', ')}`
        : 'every unit has a FOCUS UnitFormat mapping',
    failing_rows: units.reduce((sum, row) => sum + Number(row.rows), 0),
    ...(units.length > 0 ? { details: { units: units.slice(0, 50) } } : {}),
  };
}
