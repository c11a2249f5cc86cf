/**
 * The project's own exports pass `validate-focus` with no options (issue 11, item 6): the
 * subscription pipeline's FOCUS rows, and one export mixing the AWS, Google Cloud, Azure and
 * OCI conversions of the shared sample exports with them. Each row is checked under the
 * profile its x_SourceSystem names; before, a single-provider export needed --provider and a
 * mixed one failed whatever --provider said.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportOrgTable } from '../../src/focus/export-focus.ts';
import { validateFocusFile, type ValidateFocusFileOutcome } from '../../src/focus/validate-focus-file.ts';
import { main } from '../../src/main/cli.ts';
import { importPlans } from '../../src/subscription/plans-import.ts';
import { SAMPLES, openCloudHarness, skipWithoutShared, type CloudHarness } from '../cloud/cloud-fixture.ts';
import { REPO } from '../support/test-app.ts';

const ORG = 'exports_org';
const CLOUD_RUNS = [
  { file: 'aws/koku__aws_2023-06-01.csv', route: 'aws/cost/billing', start: '2023-06-01', end: '2023-06-30' },
  { file: 'gcp/koku__gcp_2022-08-01_5_detailed.csv', route: 'gcp/cost/billing', start: '2022-08-01', end: '2022-08-31' },
  { file: 'azure/focus_converters__sample-anonymous-ea-export-dataset.csv', route: 'azure/cost/billing', start: '2023-09-01', end: '2023-09-30' },
  { file: 'oci/koku__oci_reports_cost-csv_0001000000603747.csv', route: 'oci/cost/billing', start: '2022-04-01', end: '2022-04-30' },
];

const mustFailures = (o: ValidateFocusFileOutcome) => o.results.filter((r) => r.level === 'MUST' && r.status === 'fail').map((r) => `${r.rule_id} (${r.failing_rows} rows, e.g. ${JSON.stringify(r.examples[0])})`);

describe('validate-focus on the project’s own exports, without options', () => {
  let h: CloudHarness;
  let subscriptionRun: string;
  before(async () => {
    h = await openCloudHarness(ORG);
    const csvText = await readFile(join(REPO, 'examples', 'saas_subscription_plans.csv'), 'utf8');
    await importPlans(h.app.warehouse!, { orgSlug: ORG, dataset: `${ORG}_dev`, csvText, importedAt: new Date('2026-03-01T00:00:00Z'), runId: 'import-example' });
    const run = await h.run('subscription/costs/subscription_cost', { start_date: '2026-01-01', end_date: '2026-01-31' });
    assert.equal(run.status, 'completed', run.error ?? '');
    subscriptionRun = run.runId;
  });
  after(() => h.close());

  const exported = async (name: string, format: 'csv' | 'parquet', runId?: string) => {
    const path = join(await h.folder('exports'), `${name}.${format}`);
    const { rows } = await exportOrgTable(h.app.warehouse!, { orgSlug: ORG, env: 'dev', runId, format, path });
    assert.ok(rows > 0);
    return path;
  };

  test('the subscription export', async () => {
    const outcome = await validateFocusFile(await exported('subscription', 'csv', subscriptionRun));
    assert.deepEqual(mustFailures(outcome), []);
    assert.ok(outcome.summary.must.passed > 100, 'the rules ran');
    assert.match(outcome.report, /^Applicability: each row's profile by x_SourceSystem: subscription \d+ rows$/m);
    // Declaring every criterion, as the official validator's ALL does, demands what SaaS plans do not have.
    const all = await validateFocusFile(await exported('subscription', 'csv', subscriptionRun), { applicabilityCriteria: 'ALL' });
    assert.ok(all.summary.must.failed > 0 && all.summary.skipped < outcome.summary.skipped);
  });

  test('an export mixing AWS, Google Cloud, Azure, OCI and subscription rows, as CSV and Parquet', { skip: skipWithoutShared(SAMPLES) }, async () => {
    for (const r of CLOUD_RUNS) {
      const run = await h.run(r.route, { start_date: r.start, end_date: r.end, source_uri: await h.place(join(SAMPLES, r.file), join('samples', r.file)) });
      assert.equal(run.status, 'completed', `${r.file}: ${run.error}`);
    }
    for (const format of ['csv', 'parquet'] as const) {
      const path = await exported('mixed', format);
      const outcome = await validateFocusFile(path, { json: true });
      assert.deepEqual(mustFailures(outcome), [], format);
      const report = JSON.parse(outcome.report) as { applicability: { mode: string; profiles: { profile: string }[] } };
      assert.deepEqual(report.applicability.profiles.map((p) => p.profile), ['aws', 'azure', 'gcp', 'oci', 'subscription']);
      // Not one profile for all: rules such as the commitment discount ones ran on the cloud rows only.
      const commitment = outcome.results.find((r) => r.rule_id === 'CAU-CommitmentDiscountStatus-C-003-C');
      assert.deepEqual([commitment?.status, commitment?.profiles], ['pass', ['aws', 'azure', 'gcp', 'oci']]);
      assert.ok(outcome.summary.must.passed > 200);
    }
  });

  test('the CLI: no options, --applicability-criteria, and --help agreeing with the README', async () => {
    const path = await exported('cli', 'csv', subscriptionRun);
    const lines: string[] = [];
    assert.equal(await main(['validate-focus', path, '--json'], (l) => lines.push(l)), 0);
    assert.equal(JSON.parse(lines.pop() as string).conformant, true);
    assert.equal(await main(['validate-focus', path, '--applicability-criteria', 'TAGGING_SUPPORTED,SUB_ACCOUNT_SUPPORTED', '--json'], (l) => lines.push(l)), 0);
    assert.deepEqual(JSON.parse(lines.pop() as string).applicability, { mode: 'criteria', criteria: ['TAGGING_SUPPORTED', 'SUB_ACCOUNT_SUPPORTED'] });

    await main(['--help'], (l) => lines.push(l));
    const help = (lines.pop() as string).split('\n');
    const start = help.findIndex((l) => l.trimStart().startsWith('validate-focus '));
    const end = help.findIndex((l, i) => i > start && /^ {2}\S/.test(l));
    const flags = (text: string) => [...new Set(text.match(/--[a-z][a-z-]*/g) ?? [])].sort();
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    const cliLine = readme.split('\n').find((l) => l.includes('`validate-focus <file')) ?? '';
    assert.deepEqual(flags(help.slice(start, end).join(' ')), ['--applicability-criteria', '--json', '--provider', '--verbose']);
    assert.deepEqual(flags(cliLine.slice(cliLine.indexOf('`validate-focus'), cliLine.indexOf('`', cliLine.indexOf('`validate-focus') + 1))), flags(help.slice(start, end).join(' ')));
    const examples = readme.split('\n').filter((l) => l.startsWith('npx pipeline validate-focus')).join(' ');
    for (const flag of flags(examples)) assert.ok(help.slice(start, end).join(' ').includes(flag), `README example flag ${flag} is in --help`);
  });
});
