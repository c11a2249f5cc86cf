import { canonicalName } from './column-names.ts';

export type CloudProvider = 'aws' | 'gcp' | 'azure' | 'oci';
export const CLOUD_PROVIDERS: readonly CloudProvider[] = ['aws', 'gcp', 'azure', 'oci'];

/**
 * What the staging step knows about each provider's exports; everything else is in the
 * provider's contract (configs/schemas/cloud/*.json) and conversion SQL.
 */
export interface ProviderExports {
  /** The native contract, `configs/schemas/{contract}.json`. */
  contract: string;
  /** Native shapes, told apart by a column the shape has (canonical name); the first that matches wins, the last is the default. */
  shapes: { shape: string; when?: string; unless?: string }[];
  /** Columns whose original name starts with `prefix` become one JSON object column `into` (the rest of the name is the key). */
  folds: { prefix: string; into: string; stripKey?: RegExp }[];
  /** Contract columns `{prefix}{key}` a file lacks are read from its map column `column`, key `{key}` (CUR 2.0 `product`). */
  maps: { column: string; prefix: string }[];
}

export const PROVIDER_EXPORTS: Record<CloudProvider, ProviderExports> = {
  aws: {
    contract: 'cloud/aws_cur',
    shapes: [{ shape: 'cur' }],
    // Legacy CSV: one column per tag (`resourceTags/user:team`) and per cost category; Athena
    // Parquet flattens them to `resource_tags_user_team`. CUR 2.0 has map columns of those names.
    // User tags lose their `user:` prefix (FOCUS Tags keys are the tag names); AWS-defined ones
    // (`aws:createdBy`) keep theirs.
    folds: [
      { prefix: 'resourceTags/', into: 'resource_tags', stripKey: /^user:/ },
      { prefix: 'resource_tags_', into: 'resource_tags', stripKey: /^user_/ },
      { prefix: 'costCategory/', into: 'cost_category' },
      { prefix: 'cost_category_', into: 'cost_category' },
    ],
    maps: [{ column: 'product', prefix: 'product_' }],
  },
  gcp: { contract: 'cloud/gcp_billing_export', shapes: [{ shape: 'billing_export' }], folds: [], maps: [] },
  azure: { contract: 'cloud/azure_cost_details', shapes: [{ shape: 'cost_details' }], folds: [], maps: [] },
  oci: {
    contract: 'cloud/oci_cost_report',
    // The usage report (deprecated Jan 2025) has quantities and no cost columns.
    shapes: [{ shape: 'usage_report', when: 'usage_consumed_quantity', unless: 'cost_my_cost' }, { shape: 'cost_report' }],
    folds: [{ prefix: 'tags/', into: 'oci_tags' }],
    maps: [],
  },
};

/** Native FOCUS exports of any provider share one contract; their names are kept (FOCUS names are identifiers). */
export const FOCUS_CONTRACT = 'cloud/focus_export';

/** A FOCUS export is recognised by two of its mandatory columns. */
export function isFocusExport(columns: string[]): boolean {
  const names = new Set(columns.map((c) => c.toLowerCase()));
  return names.has('billedcost') && names.has('chargeperiodstart');
}

export function nativeShape(provider: CloudProvider, canonicalColumns: Set<string>): string {
  const { shapes } = PROVIDER_EXPORTS[provider];
  for (const { shape, when, unless } of shapes) {
    if (when && !canonicalColumns.has(when)) continue;
    if (unless && canonicalColumns.has(unless)) continue;
    return shape;
  }
  return (shapes[shapes.length - 1] as { shape: string }).shape;
}

export { canonicalName };
