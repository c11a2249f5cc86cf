/**
 * Writes configs/cloud/opendata/*.csv, the lookup tables the cloud conversions join, from the
 * open data in ../shared/providers/cloud/opendata (see its SOURCES.md):
 *
 *   service_categories.csv   provider, match, key -> ServiceName, ServiceCategory, ServiceSubcategory
 *   regions.csv              provider, key -> RegionId, RegionName
 *   azure_pricing_units.csv  Azure UnitOfMeasure -> pricing block size and FOCUS unit
 *   azure_resource_types.csv ARM resource type -> display name (FOCUS ResourceType)
 *
 * Run: npx node scripts/generate-cloud-opendata.ts
 *
 * The sources use FOCUS 1.0 category names and (except Azure) no subcategories; every value is
 * checked against the FOCUS 1.3 category and subcategory lists, subcategories come from the
 * toolkit (Azure) or from the SUBCATEGORIES table below (ours), otherwise "Other (<category>)".
 * Keys are lowercased, so the conversions match case-insensitively.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';

export interface OpenDataSources {
  /** File name (relative to the opendata folder) -> text. */
  read(file: string): string;
  /** ../shared/focus/focus-1.3-meta.json */
  meta: { service_category_values: string[]; service_subcategory_parent: Record<string, string> };
}

type Row = Record<string, string>;

/** Subcategories for the common services of the providers whose open data has none (our choice). */
const SUBCATEGORIES: Record<string, Record<string, string>> = {
  aws: {
    amazonec2: 'Virtual Machines', amazonlightsail: 'Virtual Machines', awslambda: 'Serverless Compute', amazonecs: 'Containers', amazoneks: 'Containers',
    amazonecr: 'Containers', amazonecrpublic: 'Containers', awsapprunner: 'Containers', amazonappstream: 'End User Computing', amazonbraket: 'Quantum Compute',
    amazons3: 'Object Storage', amazonglacier: 'Backup Storage', amazons3glacierdeeparchive: 'Backup Storage', awsbackup: 'Backup Storage', amazonebs: 'Block Storage',
    amazonefs: 'File Storage', amazonfsx: 'File Storage', awselasticdisasterrecovery: 'Disaster Recovery',
    amazonrds: 'Relational Databases', amazonaurora: 'Relational Databases', amazondynamodb: 'NoSQL Databases', amazondocdb: 'NoSQL Databases', amazonmcs: 'NoSQL Databases',
    amazonneptune: 'NoSQL Databases', amazonelasticache: 'Caching', amazonmemorydb: 'Caching', amazonredshift: 'Data Warehouses', amazontimestream: 'Time Series Databases',
    amazonqldb: 'Ledger Databases', amazoncloudfront: 'Content Delivery', amazonvpc: 'Network Infrastructure', awsdatatransfer: 'Network Connectivity',
    awsdirectconnect: 'Network Connectivity', amazonroute53: 'Network Routing', awselb: 'Application Networking', amazonapigateway: 'API Management',
    awsglobalaccelerator: 'Network Routing', awsnetworkfirewall: 'Network Security', amazonsns: 'Messaging', awsqueueservice: 'Messaging', amazonmq: 'Messaging',
    amazonstates: 'Workflow Orchestration', amazonmwaa: 'Workflow Orchestration', amazoncloudwatch: 'Observability', amazongrafana: 'Observability',
    amazonprometheus: 'Observability', awscloudtrail: 'Compliance', awsconfig: 'Compliance', awsbudgets: 'Cost Management', awscostexplorer: 'Cost Management',
    awskms: 'Secret Management', awssecretsmanager: 'Secret Management', cloudhsm: 'Secret Management', amazonguardduty: 'Threat Detection and Response',
    amazondetective: 'Threat Detection and Response', awssecurityhub: 'Security Posture Management', amazoninspector: 'Security Posture Management',
    amazoninspectorv2: 'Security Posture Management', awsshield: 'Network Security', awswaf: 'Network Security', amazoncognito: 'Identity and Access Management',
    awsdirectoryservice: 'Identity and Access Management', amazonsagemaker: 'Machine Learning', amazonbedrock: 'Generative AI', amazonlex: 'Bots',
    comprehend: 'Natural Language Processing', translate: 'Natural Language Processing', transcribe: 'Natural Language Processing', amazonathena: 'Data Processing',
    awsglue: 'Data Processing', elasticmapreduce: 'Data Processing', amazonkinesis: 'Streaming Analytics', amazonkinesisfirehose: 'Streaming Analytics',
    amazonmsk: 'Streaming Analytics', amazonquicksight: 'Business Intelligence', amazones: 'Search', amazoncloudsearch: 'Search',
    awsdatabasemigrationsvc: 'Data Migration', awsdatasync: 'Data Migration', awsapplicationmigrationsvc: 'Resource Migration', codebuild: 'Continuous Integration and Deployment',
    awscodepipeline: 'Continuous Integration and Deployment', awscodedeploy: 'Continuous Integration and Deployment', awscodecommit: 'Source Code Management',
    awsiot: 'IoT Platforms', awsiotanalytics: 'IoT Analytics',
  },
  gcp: {
    'compute engine': 'Virtual Machines', 'vmware engine': 'Virtual Machines', 'kubernetes engine': 'Containers', 'artifact registry': 'Containers', 'cloud run': 'Serverless Compute',
    'cloud functions': 'Serverless Compute', 'app engine': 'Application Platforms', 'cloud storage': 'Object Storage', 'cloud filestore': 'File Storage', 'backup for gke': 'Backup Storage',
    'cloud sql': 'Relational Databases', 'cloud spanner': 'Relational Databases', 'cloud bigtable': 'NoSQL Databases', 'firebase realtime database': 'NoSQL Databases',
    'cloud memorystore for redis': 'Caching', 'cloud memorystore for memcached': 'Caching', bigquery: 'Data Warehouses', 'cloud dns': 'Network Routing', 'cloud cdn': 'Content Delivery',
    networking: 'Network Connectivity', 'cloud logging': 'Observability', stackdriver: 'Observability', 'cloud pub/sub': 'Messaging', 'pub/sub lite': 'Messaging',
    workflows: 'Workflow Orchestration', 'cloud composer': 'Workflow Orchestration', 'api gateway': 'API Management', 'secret manager': 'Secret Management',
    'cloud key management service (kms)': 'Secret Management', 'security command center': 'Security Posture Management', 'cloud ids': 'Threat Detection and Response',
    'vertex ai': 'AI Platforms', 'cloud natural language': 'Natural Language Processing', 'cloud dataflow': 'Data Processing', 'cloud build': 'Continuous Integration and Deployment',
    'source repository': 'Source Code Management', 'transfer appliance': 'Data Migration', 'identity platform': 'Identity and Access Management',
  },
  oci: {
    compute: 'Virtual Machines', block_storage: 'Block Storage', objectstore: 'Object Storage', file_storage: 'File Storage', network: 'Network Connectivity',
    telemetry: 'Observability', logging: 'Observability', api_gateway: 'API Management', database: 'Relational Databases', autonomous_database: 'Relational Databases',
    mysql: 'Relational Databases', nosql: 'NoSQL Databases', functions: 'Serverless Compute', oke: 'Containers', container_engine: 'Containers', vault: 'Secret Management',
    notifications: 'Messaging', streaming: 'Streaming Analytics', load_balancer: 'Application Networking', dns: 'Network Routing',
  },
};

/** OCI publishes no category table; these service codes are categorised by us (the FOCUS sample covers three). */
const OCI_CATEGORIES: Record<string, string> = {
  objectstore: 'Storage', file_storage: 'Storage', telemetry: 'Management and Governance', logging: 'Management and Governance', api_gateway: 'Integration',
  database: 'Databases', autonomous_database: 'Databases', mysql: 'Databases', nosql: 'Databases', functions: 'Compute', oke: 'Compute', container_engine: 'Compute',
  vault: 'Security', notifications: 'Integration', streaming: 'Analytics', load_balancer: 'Networking', dns: 'Networking',
};

const RENAMED_SUBCATEGORIES: Record<string, string> = { Quantum: 'Quantum Compute' };

const csv = (text: string): Row[] => parse(text, { columns: true, skip_empty_lines: true, trim: false, relax_column_count: true }) as Row[];

export interface OpenDataFiles {
  'service_categories.csv': string;
  'regions.csv': string;
  'azure_pricing_units.csv': string;
  'azure_resource_types.csv': string;
}

export function buildOpenData(sources: OpenDataSources): OpenDataFiles {
  const categories = new Set(sources.meta.service_category_values);
  const parentOf = sources.meta.service_subcategory_parent;
  const checkCategory = (category: string, where: string) => {
    if (!categories.has(category)) throw new Error(`${where}: ${JSON.stringify(category)} is not a FOCUS 1.3 ServiceCategory`);
    return category;
  };
  const subcategoryFor = (provider: string, key: string, category: string, given?: string) => {
    const sub = given || SUBCATEGORIES[provider]?.[key] || `Other (${category})`;
    if (parentOf[sub] !== category) return `Other (${category})`;
    return sub;
  };

  const services = new Map<string, string[]>();
  const addService = (provider: string, match: string, key: string, name: string, category: string, subcategory: string, source: string) => {
    const id = `${provider}|${match}|${key}`;
    if (!key || services.has(id)) return;
    services.set(id, [provider, match, key, name, category, subcategory, source]);
  };

  // AWS: keyed by line_item_product_code; the rows FC lists with a trailing * are service names.
  for (const row of csv(sources.read('focus_converters/aws_category_mapping.csv'))) {
    const raw = (row.product_code ?? '').trim();
    const category = checkCategory((row.ServiceCategory ?? '').trim(), `aws_category_mapping.csv ${raw}`);
    const byName = raw.endsWith('*');
    const key = raw.replace(/\*$/, '').trim().toLowerCase();
    addService('aws', byName ? 'service_name' : 'product_code', key, '', category, subcategoryFor('aws', key, category), 'focus_converters');
  }
  // The FOCUS sample shows how AWS and Oracle categorise by service name; names seen under two categories are ambiguous and left out.
  const sample = csv(sources.read('derived/focus_sample_1.0_service_to_category.csv'));
  const seen = new Map<string, Set<string>>();
  for (const row of sample) {
    const id = `${row.ProviderName}|${(row.ServiceName ?? '').toLowerCase()}`;
    seen.set(id, (seen.get(id) ?? new Set()).add(row.ServiceCategory ?? ''));
  }
  for (const row of sample) {
    const key = (row.ServiceName ?? '').toLowerCase();
    if ((seen.get(`${row.ProviderName}|${key}`)?.size ?? 0) > 1) continue;
    const category = checkCategory(row.ServiceCategory ?? '', `focus sample ${row.ServiceName}`);
    if (row.ProviderName === 'AWS') addService('aws', 'service_name', key, '', category, subcategoryFor('aws', key, category), 'focus_sample');
    if (row.ProviderName === 'Oracle') addService('oci', 'service_code', key, '', category, subcategoryFor('oci', key, category), 'focus_sample');
  }
  for (const [key, category] of Object.entries(OCI_CATEGORIES)) addService('oci', 'service_code', key, '', checkCategory(category, `oci ${key}`), subcategoryFor('oci', key, category), 'curated');

  for (const row of csv(sources.read('focus_converters/gcp_category_mapping.csv'))) {
    const key = (row.ConsumedService ?? '').trim().toLowerCase();
    const category = checkCategory((row.ServiceCategory ?? '').trim(), `gcp_category_mapping.csv ${key}`);
    addService('gcp', 'service_name', key, '', category, subcategoryFor('gcp', key, category), 'focus_converters');
  }

  // Azure: the toolkit's (ConsumedService, ResourceType) table, then one default per ConsumedService
  // (its most frequent name and category), then the older FC table for consumed services it lacks.
  const toolkit = csv(sources.read('finops-toolkit/Services.csv'));
  const byConsumed = new Map<string, Map<string, number>>();
  for (const row of toolkit) {
    const consumed = (row.ConsumedService ?? '').trim().toLowerCase();
    const type = (row.ResourceType ?? '').trim().toLowerCase();
    const category = checkCategory(row.ServiceCategory ?? '', `Services.csv ${consumed} ${type}`);
    // Two toolkit rows use pre-1.2 subcategory names (Quantum, Data Transfer): renamed, or the category's Other.
    const given = RENAMED_SUBCATEGORIES[row.ServiceSubcategory ?? ''] ?? row.ServiceSubcategory ?? '';
    const sub = parentOf[given] === category ? given : `Other (${category})`;
    addService('azure', 'resource_type', `${consumed}|${type}`, row.ServiceName ?? '', category, sub, 'finops_toolkit');
    if (!consumed) continue;
    const tuple = JSON.stringify([row.ServiceName, category, sub]);
    const counts = byConsumed.get(consumed) ?? new Map<string, number>();
    byConsumed.set(consumed, counts.set(tuple, (counts.get(tuple) ?? 0) + 1));
  }
  for (const [consumed, counts] of byConsumed) {
    const [tuple] = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0] as [string, number];
    const [name, category, sub] = JSON.parse(tuple) as [string, string, string];
    addService('azure', 'consumed_service', consumed, name, category, sub, 'finops_toolkit');
  }
  for (const row of csv(sources.read('focus_converters/azure_category_mapping.csv'))) {
    const key = (row.ConsumedService ?? '').trim().toLowerCase();
    const category = checkCategory((row.ServiceCategory ?? '').trim(), `azure_category_mapping.csv ${key}`);
    addService('azure', 'consumed_service', key, '', category, subcategoryFor('azure', key, category), 'focus_converters');
  }

  const regions = new Map<string, string[]>();
  const addRegion = (provider: string, key: string, id: string, name: string) => {
    const k = `${provider}|${key}`;
    if (key && !regions.has(k)) regions.set(k, [provider, key, id, name]);
  };
  for (const row of csv(sources.read('derived/gcp_region_names.csv'))) addRegion('gcp', (row.RegionId ?? '').toLowerCase(), row.RegionId ?? '', row.RegionName ?? '');
  for (const row of csv(sources.read('finops-toolkit/Regions.csv'))) addRegion('azure', (row.OriginalValue ?? '').toLowerCase(), row.RegionId ?? '', row.RegionName ?? '');
  for (const row of csv(sources.read('derived/focus_sample_1.0_region_ids.csv'))) {
    if (row.ProviderName === 'AWS' && row.RegionName !== 'External') addRegion('aws', (row.RegionId ?? '').toLowerCase(), row.RegionId ?? '', row.RegionName ?? '');
  }

  const units = new Map<string, string[]>();
  for (const row of csv(sources.read('finops-toolkit/PricingUnits.csv'))) {
    const key = (row.UnitOfMeasure ?? '').trim().toLowerCase();
    const size = Number(row.PricingBlockSize);
    if (!key || units.has(key)) continue;
    if (!Number.isFinite(size) || size <= 0) throw new Error(`PricingUnits.csv ${key}: block size ${row.PricingBlockSize}`);
    units.set(key, [key, String(size), row.DistinctUnits ?? '']);
  }

  const types = new Map<string, string[]>();
  for (const row of csv(sources.read('finops-toolkit/ResourceTypes.csv'))) {
    const key = (row.ResourceType ?? '').trim().toLowerCase();
    if (key && row.SingularDisplayName && !types.has(key)) types.set(key, [key, row.SingularDisplayName]);
  }

  return {
    'service_categories.csv': render(['provider', 'match', 'key', 'service_name', 'service_category', 'service_subcategory', 'source'], services),
    'regions.csv': render(['provider', 'key', 'region_id', 'region_name'], regions),
    'azure_pricing_units.csv': render(['unit_of_measure', 'block_size', 'unit'], units),
    'azure_resource_types.csv': render(['resource_type', 'display_name'], types),
  };
}

function render(header: string[], rows: Map<string, string[]>): string {
  const cell = (value: string) => (/[",\n\r]/.test(value) || value !== value.trim() ? `"${value.replace(/"/g, '""')}"` : value);
  const sorted = [...rows.values()].sort((a, b) => a.join('\u0000').localeCompare(b.join('\u0000')));
  return [header, ...sorted].map((row) => row.map(cell).join(',')).join('\n') + '\n';
}

export function sharedSources(root: string): OpenDataSources {
  const base = join(root, '../shared/providers/cloud/opendata');
  return {
    read: (file) => readFileSync(join(base, file), 'utf8'),
    meta: JSON.parse(readFileSync(join(root, '../shared/focus/focus-1.3-meta.json'), 'utf8')) as OpenDataSources['meta'],
  };
}

function main(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const files = buildOpenData(sharedSources(root));
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(root, 'configs/cloud/opendata', name), text);
    console.log(`wrote configs/cloud/opendata/${name} (${text.split('\n').length - 2} rows)`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
