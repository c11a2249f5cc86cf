import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { resolveSqlTemplates, sqlIdentifiers } from '../../pipelines/templates.ts';
import { NotFoundError, ProcessorError } from '../../shared/errors.ts';
import type { QualityResult } from '../../shared/quality.ts';
import { SOURCE_PROVIDERS } from '../../sources/cloud-credentials.ts';
import { orgFolder } from '../../sources/org-folder.ts';
import { parseSourceUri } from '../../sources/source-uri.ts';
import { splitStatements } from '../../warehouse/split-statements.ts';
import { defineProcessor, type ProcessorContext } from '../types.ts';
import { quoteIdent, quoteLiteral } from './column-names.ts';
import { loadExportContract } from './export-contract.ts';
import { CLOUD_PROVIDERS, FOCUS_CONTRACT, PROVIDER_EXPORTS, canonicalName, isFocusExport, nativeShape, type CloudProvider } from './export-providers.ts';
import { FILE_FORMATS, resolveExportFiles, type ExportFiles, type FileFormat } from './export-source.ts';
import { emptySelect, normalisedSelect, readerSql, shownFileSql, type SourceColumn } from './export-view.ts';
import { readFailure } from './read-error.ts';
import { referenceViews } from './reference-views.ts';

const Identifier = Type.String({ pattern: '^[a-z][a-z0-9_]*$' });

/** Names of the staged views of one load; the conversion SQL reads them under these names. */
export function stagedViews(view: string, credentialId: string) {
  return { native: `${view}__${credentialId}`, focus: `${view}_focus__${credentialId}`, load: `${view}_load__${credentialId}` };
}

/**
 * Stages a cloud billing export for its conversion to FOCUS: no copy of the rows, but views in
 * the org's dataset over the export files, read by DuckDB's own readers (see export-source.ts
 * for the source forms and export-view.ts for the column binding). Copying a 10M-row CUR into
 * a table took 3.6x as long as converting it straight from the Parquet file (65 s vs 18 s on 2
 * cores), and the file is the record of what was loaded.
 *
 * Per load and credential (`{view}` below is the config's `view`):
 *   `{view}__{credential}`       the export in native shape, bound to the provider's contract
 *   `{view}_focus__{credential}` the export when it is a native FOCUS export (the other view is then empty)
 *   `{view}_load__{credential}`  one row: the run that staged it, shape, files; the conversion
 *                                checks it, so a concurrent re-stage by another run fails loudly
 * the lookup views of configs/cloud/opendata (`cloud_service_categories`, `cloud_regions`, ...),
 * and the config's `macros` (the conversion's parsing macros, e.g. GCP credits), persistent in
 * the dataset so the conversion, its reconciliation and the load report share them.
 */
export const billingExport = defineProcessor({
  type: 'cloud.billing_export',
  description: "Stages a cloud billing export (file, glob, folder; gs://, s3://, bq:// with the org's credential) as views in the org dataset for the FOCUS conversion.",
  configSchema: Type.Object(
    {
      provider: Type.Union(CLOUD_PROVIDERS.map((p) => Type.Literal(p))),
      view: Identifier,
      macros: Type.Optional(Type.String({ pattern: '^[a-z0-9_]+/[a-z0-9_]+$', description: 'procedure of CREATE MACRO statements the conversion uses, created with the views' })),
      format: Type.String({ description: `auto (by file extension) or one of ${FILE_FORMATS.join(', ')}; usually "{format}"` }),
      sources: Type.Array(
        Type.Object(
          {
            dataset: Identifier,
            uri: Type.String({ description: 'file, glob or directory inside the org\'s source folder, gs:// or s3:// objects (a name, prefix or glob), or bq://project.dataset.table; usually "{source_uri}"; empty: the integration setting' }),
            setting: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_]*$', description: "key of the provider credential's metadata holding the URI when uri is empty" })),
            optional: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        { minItems: 1 },
      ),
    },
    { additionalProperties: false },
  ),
  // A gs://, s3:// or bq:// source is read with the org's gcp or aws credential: checked while
  // the run validates, so a missing one fails the run before any step, naming it.
  requiredCredentials: (config) =>
    config.sources.flatMap((source) => {
      const parsed = parseSourceUri(source.uri.trim());
      return parsed.kind === 'object_store' || parsed.kind === 'bigquery_table' ? [SOURCE_PROVIDERS[parsed.kind === 'object_store' ? parsed.scheme : 'bq']] : [];
    }),
  async run(config, context) {
    const { warehouse } = context;
    // The export is staged as DuckDB views over the files (export-view.ts): nothing to download
    // for a warehouse that cannot read them, and a message instead of BigQuery's syntax error.
    if (warehouse.dialect !== 'duckdb') {
      throw new ProcessorError(`cloud billing exports are staged in the DuckDB warehouse only for now; this service's warehouse is ${warehouse.dialect} (WAREHOUSE): run the cloud pipelines on a service with WAREHOUSE=duckdb`, { retryable: false });
    }
    const provider = config.provider as CloudProvider;
    const format = await declaredFormat(config.format, provider, context);
    const loads: { dataset: string; files: ExportFiles; columns: SourceColumn[]; reader: string }[] = [];
    const folder = orgFolder(context.sourceRoot, context.orgSlug);
    for (const source of config.sources) {
      const given = source.uri.trim();
      const uri = given || (source.setting ? await setting(provider, source.setting, context) : '');
      if (!uri) {
        if (source.optional) continue;
        throw new ProcessorError(`no ${source.dataset} export to load: give the run parameter source_uri${source.setting ? `, or set metadata.${source.setting} on the org's ${provider} credential` : ''}`, { retryable: false });
      }
      context.signal.throwIfAborted();
      // The operator's setting obeys the same confinement as a run parameter; when refused it is
      // named, not echoed (it may be a server path from before sources were confined).
      const label = given ? `the ${source.dataset} export ${JSON.stringify(given)}` : `metadata.${source.setting} of the org's ${provider} credential`;
      const remote = {
        orgSlug: context.orgSlug,
        pipelineId: context.pipelineId,
        runId: context.runId,
        credentials: context.credentials,
        scratch: context.scratch,
        endpoints: context.providerBaseUrls,
        dates: { start: context.startDate, end: context.endDate },
        signal: context.signal,
        logger: context.logger,
        folderName: `${context.stepId}-${source.dataset}`,
      };
      const files = await resolveExportFiles(uri, format, warehouse, { folder, label, remote });
      const { reader, columns } = await describe(files, context);
      loads.push({ dataset: source.dataset, files, columns, reader });
    }
    if (loads.length === 0) throw new ProcessorError('no export to load', { retryable: false });

    const focus = isFocusExport(loads[0]!.columns.map((c) => c.name));
    if (loads.some((load) => isFocusExport(load.columns.map((c) => c.name)) !== focus)) throw new ProcessorError('the sources mix a native FOCUS export with native billing exports', { retryable: false });
    const spec = PROVIDER_EXPORTS[provider];
    const [native, focusContract] = await Promise.all([loadExportContract(context.configsDir, spec.contract), loadExportContract(context.configsDir, FOCUS_CONTRACT)]);
    const contract = focus ? focusContract : native;

    const selects: string[] = [];
    const quality: QualityResult[] = [];
    let shape = 'focus';
    for (const load of loads) {
      shape = focus ? 'focus' : nativeShape(provider, new Set(load.columns.map((c) => canonicalName(c.name))));
      const normalised = normalisedSelect({
        reader: load.reader,
        columns: load.columns,
        contract,
        canonical: !focus,
        folds: spec.folds,
        maps: spec.maps,
        shape,
        constants: { x_source_dataset: load.dataset, x_load_shape: shape },
        sourceFile: shownFileSql(load.files),
      });
      if (normalised.missingRequired.length > 0) {
        throw new ProcessorError(
          `${load.files.uri} (${provider} ${shape}) lacks required column${normalised.missingRequired.length > 1 ? 's' : ''} ${normalised.missingRequired.join(', ')} (contract ${contract.file})`,
          { retryable: false },
        );
      }
      selects.push(normalised.sql);
      quality.push(
        info('LOAD-FILES', `${load.dataset}: ${load.files.files.length} ${load.files.format} file(s) from ${load.files.uri}, ${provider} ${shape}`, { files: load.files.shown, format: load.files.format, shape }),
        info('LOAD-ABSENT-COLUMNS', `${load.dataset}: ${normalised.filled.length} optional column(s) absent, read as null`, { columns: normalised.filled }),
        info('LOAD-EXTRA-COLUMNS', `${load.dataset}: ${normalised.extras.length} column(s) outside the contract kept in the staged view`, { columns: normalised.extras }),
      );
      if (load.files.skipped.length > 0) quality.push({ ...info('LOAD-EMPTY-FILES', `${load.dataset}: ${load.files.skipped.length} empty file(s) skipped`, { files: load.files.skipped }), status: 'warn' });
    }

    const views = stagedViews(config.view, context.credentialId);
    const qualified = (name: string) => `${context.dataset}.${quoteIdent(name)}`;
    const constants = { x_source_dataset: '', x_load_shape: shape };
    const staged = selects.map((sql) => `(${sql})`).join('\nUNION ALL BY NAME\n');
    const empty = emptySelect(focus ? native : focusContract, constants);
    const files = loads.flatMap((load) => load.files.shown);
    const statements = [
      `CREATE OR REPLACE VIEW ${qualified(views.native)} AS ${focus ? empty : staged}`,
      `CREATE OR REPLACE VIEW ${qualified(views.focus)} AS ${focus ? staged : empty}`,
      `CREATE OR REPLACE VIEW ${qualified(views.load)} AS SELECT ${quoteLiteral(context.runId)} AS x_load_run_id, ${quoteLiteral(shape)} AS x_load_shape, ` +
        `[${files.map(quoteLiteral).join(', ')}]::VARCHAR[] AS x_source_files, TIMESTAMPTZ ${quoteLiteral(context.lineage.ingestedAt.toISOString())} AS x_loaded_at`,
      ...referenceViews(context.dataset, join(context.configsDir, 'cloud', 'opendata')),
      ...(await macroStatements(SHARED_MACROS, context)),
      ...(config.macros ? await macroStatements(config.macros, context) : []),
    ];
    await warehouse.ensureDataset(context.dataset);
    await warehouse.runScript(statements.map((sql) => ({ sql })), context.signal);

    // Reads the export once through the view: a file that does not parse fails here, in the load step.
    const [count] = await warehouse.query(`SELECT count(*)::BIGINT AS n FROM ${qualified(focus ? views.focus : views.native)}`, {}, context.signal).catch((error: unknown) => {
      throw readFailure(error, loads.length === 1 ? loads[0]!.files : mergedFiles(loads.map((load) => load.files)));
    });
    const rows = Number(count?.n ?? 0);
    quality.push(info('LOAD-ROWS', `${rows} row(s) staged`, { rows }));
    context.recordQuality(quality);
    context.logger.info({ provider, shape, files: files.length, rows }, 'billing export staged');
    return { rowsWritten: 0, tables: [views.native, views.focus, views.load].map((v) => `${context.dataset}.${v}`), details: { provider, shape, files, rows } };
  },
});

/** Macros every cloud conversion uses (unit prices, the FOCUS 1.3 ties of native FOCUS rows). */
const SHARED_MACROS = 'cloud/sp_cloud_0_macros_focus';

async function macroStatements(procedure: string, context: ProcessorContext): Promise<string[]> {
  const { sql: script } = await context.procedures.read(procedure, context.warehouse.dialect);
  return splitStatements(resolveSqlTemplates(script, sqlIdentifiers(context.variables), procedure));
}

/** The export's columns; a CSV whose dialect the strict sniffer rejects is read leniently. */
async function describe(files: ExportFiles, context: ProcessorContext): Promise<{ reader: string; columns: SourceColumn[] }> {
  const read = async (reader: string) => ({
    reader,
    columns: (await context.warehouse.query(`DESCRIBE SELECT * FROM ${reader}`, {}, context.signal)).map((row) => ({ name: String(row.column_name), type: String(row.column_type) })),
  });
  try {
    return await read(readerSql(files));
  } catch (error) {
    if (files.format !== 'csv' || !/sniffing|CSV/i.test((error as Error).message)) throw readFailure(error, files);
    context.logger.warn({ uri: files.uri }, 'csv rejected by the strict dialect sniffer; reading it leniently');
    return read(readerSql(files, true)).catch((lenient: unknown) => {
      throw readFailure(lenient, files);
    });
  }
}

/** The files of every load as one, for a failure of the query that reads them all. */
function mergedFiles(all: ExportFiles[]): ExportFiles {
  const first = all[0] as ExportFiles;
  return { ...first, uri: all.map((files) => files.uri).join(' + '), files: all.flatMap((f) => f.files), shown: all.flatMap((f) => f.shown) };
}

function info(rule: string, description: string, details: Record<string, unknown>): QualityResult {
  return { check_kind: 'export_load', rule_id: rule, level: 'INFO', status: 'pass', description, failing_rows: 0, details };
}

/** The run's `format`, or the integration setting when the run says `auto`. */
async function declaredFormat(value: string, provider: CloudProvider, context: ProcessorContext): Promise<FileFormat | 'auto'> {
  let format = value.trim() || 'auto';
  if (format === 'auto') format = (await setting(provider, 'format', context)) || 'auto';
  if (format !== 'auto' && !FILE_FORMATS.includes(format as FileFormat)) throw new ProcessorError(`format must be auto or one of ${FILE_FORMATS.join(', ')}, got ${JSON.stringify(format)}`, { retryable: false });
  return format as FileFormat | 'auto';
}

/**
 * The org's integration settings for a provider are the non-secret metadata of its credential
 * (`pipeline credential set ... --metadata source_uri=...`); no credential means no setting.
 */
async function setting(provider: CloudProvider, key: string, context: ProcessorContext): Promise<string> {
  try {
    const credential = await context.credentials.get(provider);
    const value = credential.metadata[key];
    return typeof value === 'string' ? value.trim() : '';
  } catch (error) {
    if (error instanceof NotFoundError) return '';
    throw error;
  }
}
