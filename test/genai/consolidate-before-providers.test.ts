import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { genaiApp, type GenaiApp } from './support/genai-app.ts';

/** genai/unified/consolidate for an org no provider pipeline has run for (docs/genai-costs.md). */
describe('genai/unified/consolidate before any provider pipeline', () => {
  let genai: GenaiApp;
  let result: Awaited<ReturnType<GenaiApp['run']>>;

  before(async () => {
    genai = await genaiApp({ org: 'fresh_org' });
    result = await genai.run('genai/unified/consolidate', { start_date: '2026-01-01', end_date: '2026-01-31' });
  });
  after(async () => genai?.close());

  test('completes with an empty summary instead of failing on a table that does not exist', async () => {
    assert.equal(result.run.status, 'completed', result.run.error_message ?? '');
    const [summary] = await genai.query<{ n: number }>(`SELECT count(*)::INT AS n FROM fresh_org_dev.genai_usage_cost_daily`);
    assert.equal(summary?.n, 0);
    const [step] = await genai.app.runs.steps(genai.org, result.runId);
    assert.equal(step?.records_processed, 0);
  });

  test('the run says which pipelines give it data, as commands for the run’s days', async () => {
    const quality = await genai.app.runs.quality(genai.org, result.runId);
    const warning = quality.find((q) => q.rule_id === 'GENAI-NO-PROVIDER-DATA');
    assert.equal(warning?.status, 'warn');
    assert.match(warning?.description ?? '', /no GenAI provider pipeline has written costs for 2026-01-01\.\.2026-01-31/);
    assert.deepEqual(warning?.details?.commands, [
      'pipeline run fresh_org/genai/payg/openai --start-date 2026-01-01 --end-date 2026-01-31',
      'pipeline run fresh_org/genai/payg/anthropic --start-date 2026-01-01 --end-date 2026-01-31',
      'pipeline run fresh_org/genai/payg/gemini --start-date 2026-01-01 --end-date 2026-01-31',
    ]);
    const logs = await genai.app.runs.logs(genai.org, result.runId);
    assert.ok(logs.some((line) => line.level === 'warn' && line.message === 'no GenAI provider costs to summarise'));
  });
});
