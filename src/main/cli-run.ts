import type { Clock } from '../shared/clock.ts';
import type { App } from './app.ts';
import { present } from '../api/routes/pipelines.ts';

const POLL_MS = 300;

/**
 * `pipeline run`: requests the run through the same service as the API, then follows it,
 * printing each step's progress until the run ends. Resolves to the final run.
 */
export async function runAndFollow(app: App, input: { orgSlug: string; route: string; body: Record<string, unknown>; json: boolean; out: (line: string) => void; clock: Clock }) {
  const { run_id } = await app.requests.request({ orgSlug: input.orgSlug, route: input.route, body: input.body, trigger: 'cli', createdBy: 'cli' });
  if (!input.json) input.out(`run ${run_id} pending (${input.route} for ${input.orgSlug})`);
  const seen = new Map<string, string>();
  let lastStatus = 'pending';
  for (;;) {
    const run = await app.runs.get(input.orgSlug, run_id);
    if (!run) throw new Error(`run ${run_id} disappeared`);
    if (!input.json) {
      if (run.status !== lastStatus) input.out(`run ${run.status}`);
      for (const step of await app.runs.steps(input.orgSlug, run_id)) {
        const line = `${step.status}${step.attempts > 1 ? ` (attempt ${step.attempts})` : ''}`;
        if (seen.get(step.step_id) === line) continue;
        seen.set(step.step_id, line);
        const detail = step.status === 'completed' ? ` ${step.records_processed} rows in ${step.duration_ms} ms` : step.error_message ? ` ${step.error_message}` : '';
        input.out(`  step ${step.step_id} [${step.ps_type}] ${line}${detail}`);
      }
    }
    lastStatus = run.status;
    if (run.status === 'completed' || run.status === 'failed' || run.status === 'cancelled') {
      if (input.json) input.out(JSON.stringify({ ...present(run), steps: await app.runs.steps(input.orgSlug, run_id) }, null, 2));
      else input.out(`run ${run_id} ${run.status}${run.error_message ? `: ${run.error_message}` : ''} (${run.records_processed} rows, ${run.duration_ms ?? 0} ms)`);
      return run;
    }
    await input.clock.sleep(POLL_MS);
  }
}
