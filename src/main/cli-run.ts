import type { Clock } from '../shared/clock.ts';
import type { App } from './app.ts';
import { present } from '../api/routes/pipelines.ts';

const POLL_MS = 300;

/**
 * `pipeline run`: requests the run through the same service as the API, then follows it,
 * printing each step's progress (attempts, and each failed attempt with its retry delay, as
 * they happen) until the run ends. Ctrl-C cancels the run when this process executes it, and
 * otherwise says how to, since the run goes on on the server; a second Ctrl-C stops following.
 * Resolves to the final run.
 */
export async function runAndFollow(app: App, input: { orgSlug: string; route: string; body: Record<string, unknown>; json: boolean; out: (line: string) => void; clock: Clock }) {
  const { run_id } = await app.requests.request({ orgSlug: input.orgSlug, route: input.route, body: input.body, trigger: 'cli', createdBy: 'cli' });
  if (!input.json) input.out(`run ${run_id} pending (${input.route} for ${input.orgSlug})`);
  const stopFollowing = onInterrupt(app, input, run_id);
  try {
    return await follow(app, input, run_id);
  } finally {
    stopFollowing();
  }
}

async function follow(app: App, input: Parameters<typeof runAndFollow>[1], runId: string) {
  const seen = new Map<string, string>();
  let lastStatus = 'pending';
  let lastLogId = 0;
  for (;;) {
    const run = await app.runs.get(input.orgSlug, runId);
    if (!run) throw new Error(`run ${runId} disappeared`);
    if (!input.json) {
      if (run.status !== lastStatus) input.out(`run ${run.status}`);
      for (const line of await app.runs.logs(input.orgSlug, runId, { afterId: lastLogId })) {
        lastLogId = line.id;
        if (line.message === 'step attempt failed, retrying') {
          const fields = line.fields as { attempt?: number; error?: string; retry_in_ms?: number } | null;
          input.out(`  step ${line.step_id} attempt ${fields?.attempt ?? '?'} failed: ${fields?.error ?? ''}; retrying in ${((fields?.retry_in_ms ?? 0) / 1000).toFixed(1)} s`);
        }
      }
      for (const step of await app.runs.steps(input.orgSlug, runId)) {
        const line = `${step.status}${step.attempts > 1 ? ` (attempt ${step.attempts})` : ''}`;
        if (seen.get(step.step_id) === line) continue;
        seen.set(step.step_id, line);
        // An error message that already starts with the status ("skipped: …") is not said twice.
        const error = step.error_message?.startsWith(`${step.status}:`) ? step.error_message.slice(step.status.length + 1).trimStart() : step.error_message;
        const detail = step.status === 'completed' ? ` ${step.records_processed} rows in ${step.duration_ms} ms` : error ? ` ${error}` : '';
        input.out(`  step ${step.step_id} [${step.ps_type}] ${line}${detail}`);
      }
    }
    lastStatus = run.status;
    if (run.status === 'completed' || run.status === 'failed' || run.status === 'cancelled') {
      if (input.json) input.out(JSON.stringify({ ...present(run), steps: await app.runs.steps(input.orgSlug, runId) }, null, 2));
      else input.out(`run ${runId} ${run.status}${run.error_message ? `: ${run.error_message}` : ''} (${run.records_processed} rows, ${run.duration_ms ?? 0} ms)`);
      return run;
    }
    await input.clock.sleep(POLL_MS);
  }
}

/** Ctrl-C while following; returns the function that removes the handler. */
function onInterrupt(app: App, input: Parameters<typeof runAndFollow>[1], runId: string): () => void {
  let interrupted = false;
  const handler = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    if (app.worker) {
      process.stderr.write(`\ncancelling run ${runId} (Ctrl-C again to stop waiting for it)\n`);
      void app.requests.cancel(input.orgSlug, runId, 'cli').catch(() => undefined);
    } else {
      process.stderr.write(`\nthe run goes on on the server; cancel it with: pipeline cancel ${input.orgSlug} ${runId} (Ctrl-C again to stop following)\n`);
    }
  };
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}
