/**
 * Writes the warehouse table schemas of the two FOCUS 1.3 datasets from the column facts in
 * ../shared/focus/focus-columns.json:
 *
 *   configs/schemas/focus/cost_data_standard_1_3.json   (65 Cost and Usage columns + x_ extensions)
 *   configs/schemas/focus/contract_commitment_1_3.json  (13 Contract Commitment columns)
 *
 * Run: npx node scripts/generate-focus-schemas.ts
 *
 * The output is project data (checked in); the shared file is only read. Columns keep the order
 * of focus-columns.json, which is the specification's order. The warehouse appends the lineage
 * columns itself, so they are not written here.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface FocusColumn {
  name: string;
  display_name: string;
  dataset: string;
  column_type: 'Mandatory' | 'Conditional' | 'Recommended';
  data_type: 'String' | 'Decimal' | 'Date/Time' | 'JSON';
  value_format: string | null;
  nullable: boolean | 'conditional';
  allowed_values: string[] | null;
  applicability_criteria: string[];
  deprecated: { version: string; replaced_by: string | null } | null;
}

export interface SchemaField {
  name: string;
  type: 'STRING' | 'INT64' | 'FLOAT64' | 'NUMERIC' | 'BIGNUMERIC' | 'BOOL' | 'DATE' | 'TIMESTAMP' | 'JSON';
  mode: 'REQUIRED' | 'NULLABLE';
  description: string;
  /** Closed vocabulary of a STRING column; the conformance rules check the same list. */
  allowed_values?: string[];
}

const TYPE_OF: Record<FocusColumn['data_type'], SchemaField['type']> = {
  String: 'STRING',
  Decimal: 'NUMERIC', // money and quantities are exact decimals, never floats
  'Date/Time': 'TIMESTAMP',
  JSON: 'JSON',
};

/**
 * Extension columns our converters fill. FOCUS ColumnHandling requires the x_ prefix and wants
 * custom columns after all FOCUS columns, which is where they go.
 */
const EXTENSIONS: SchemaField[] = [
  {
    name: 'x_SourceSystem',
    type: 'STRING',
    mode: 'REQUIRED',
    description:
      'Provider key of the pipeline that produced the row (openai, anthropic, gemini, deepseek, gcp, aws, azure, oci, subscription). Selects the applicability profile in configs/focus/rules-1.3.yml.',
  },
  {
    name: 'x_SourceRecordId',
    type: 'STRING',
    mode: 'NULLABLE',
    description:
      'Identifier of the source record (or deterministic hash of its natural key) the row was converted from; lets a FOCUS row be traced back to the raw extract.',
  },
  {
    name: 'x_CostSource',
    type: 'STRING',
    mode: 'REQUIRED',
    description:
      'How the cost columns were obtained: provider_reported (billing export or cost API), calculated (usage priced from configs/pricing), subscription_plan (SaaS plan spread over days).',
    allowed_values: ['provider_reported', 'calculated', 'subscription_plan'],
  },
  {
    name: 'x_TokenType',
    type: 'STRING',
    mode: 'NULLABLE',
    description:
      'GenAI rows only: the priced token class (e.g. input, output, cached_input, cache_write, reasoning); null for other rows.',
  },
  {
    name: 'x_UnmappedService',
    type: 'BOOL',
    mode: 'NULLABLE',
    description:
      'True when no ServiceCategory/ServiceSubcategory mapping was found for the source service and the "Other" fallback was used; lets operators find mappings to add.',
  },
];

function describe(c: FocusColumn): string {
  const parts = [`${c.display_name}. FOCUS 1.3 ${c.column_type} column, ${c.data_type}`];
  if (c.value_format && c.value_format !== 'Allowed values') parts[0] += ` (${c.value_format})`;
  if (c.deprecated) {
    parts.push(
      `deprecated in ${c.deprecated.version}` +
        (c.deprecated.replaced_by ? `, replaced by ${c.deprecated.replaced_by}` : ''),
    );
  }
  if (c.applicability_criteria.length > 0) {
    parts.push(`applies when the provider declares ${c.applicability_criteria.join(' or ')}`);
  }
  return parts.join('; ') + '.';
}

/**
 * REQUIRED only for Mandatory, non-deprecated columns the spec never allows to be null. Every
 * other column stays NULLABLE: in the unified table a column the provider does not support is
 * null, and conditional nullness is the checker's job (a rule id in the run's data-quality
 * results is a better failure than a rejected insert).
 */
function modeOf(c: FocusColumn): SchemaField['mode'] {
  return c.column_type === 'Mandatory' && c.nullable === false && !c.deprecated ? 'REQUIRED' : 'NULLABLE';
}

/**
 * Unit prices and quantities are BIGNUMERIC (18 decimals), costs NUMERIC (9): an OCI export
 * prices storage per TB, and its quantity 0.000224014... TB rounded to 9 decimals made ListCost
 * differ from ListUnitPrice x PricingQuantity on 36 of 506 rows; a price below 5e-10 per unit
 * rounded to 0. At 18 decimals a price of 1e-12 times 1e12 units, or 1e9 times 1e-12, keeps
 * its product exact to 1e-6.
 */
const WIDE_DECIMAL = /(UnitPrice|Quantity)$/;

function typeOf(c: FocusColumn): SchemaField['type'] {
  return c.data_type === 'Decimal' && WIDE_DECIMAL.test(c.name) ? 'BIGNUMERIC' : TYPE_OF[c.data_type];
}

export function toField(c: FocusColumn): SchemaField {
  const field: SchemaField = { name: c.name, type: typeOf(c), mode: modeOf(c), description: describe(c) };
  if (c.allowed_values) field.allowed_values = [...c.allowed_values];
  return field;
}

export function buildSchemas(columns: FocusColumn[]): Record<string, { description: string; fields: SchemaField[] }> {
  const of = (dataset: string) => columns.filter((c) => c.dataset === dataset).map(toField);
  return {
    'cost_data_standard_1_3.json': {
      description:
        'Unified cost table in FOCUS 1.3 Cost and Usage format: the 65 FOCUS columns in specification order, then x_ extensions; the warehouse appends the lineage columns.',
      fields: [...of('Cost and Usage'), ...EXTENSIONS],
    },
    'contract_commitment_1_3.json': {
      description: 'FOCUS 1.3 Contract Commitment dataset: the 13 columns in specification order.',
      fields: of('Contract Commitment'),
    },
  };
}

/** One field per line keeps diffs of the checked-in files readable. */
export function renderSchema(schema: { description: string; fields: SchemaField[] }): string {
  const line = (f: SchemaField) =>
    '    {' + Object.entries(f).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ') + '}';
  const lines = schema.fields.map(line);
  return `{\n  "description": ${JSON.stringify(schema.description)},\n  "fields": [\n${lines.join(',\n')}\n  ]\n}\n`;
}

function main(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const columns = JSON.parse(readFileSync(join(root, '../shared/focus/focus-columns.json'), 'utf8')) as FocusColumn[];
  const outDir = join(root, 'configs/schemas/focus');
  mkdirSync(outDir, { recursive: true });
  for (const [file, schema] of Object.entries(buildSchemas(columns))) {
    writeFileSync(join(outDir, file), renderSchema(schema));
    console.log(`wrote configs/schemas/focus/${file} (${schema.fields.length} fields)`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
