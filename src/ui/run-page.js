import { useState } from './vendor/preact-hooks.js';
import { api } from './api.js';
import { ACTIVE, dateTime, duration, route } from './format.js';
import { Gantt } from './gantt.js';
import { POLL_MS, useLoad } from './hooks.js';
import { html } from './html.js';
import { LogView } from './log-view.js';
import { QualityView } from './quality-view.js';
import { Failure, StatusBadge } from './status-badge.js';

/** Log lines the page holds at most (the API's largest page); the download has them all. */
const LOG_LINES = 10000;

/**
 * The run, its steps, transitions, log and failed quality results. While it is under way each
 * poll asks for the run, its steps and the log lines after the last one shown; transitions and
 * quality results change with the run's status, so they are read again only when it changes.
 */
async function loadRun(session, runId, previous) {
  const held = previous?.logs ?? [];
  const room = LOG_LINES - held.length;
  const [run, steps, logs] = await Promise.all([
    api.run(session, runId), api.steps(session, runId), room > 0 ? api.logs(session, runId, held.at(-1)?.id ?? 0, room) : { logs: [] },
  ]);
  const lines = [...held, ...logs.logs];
  const changed = !previous || previous.run.status !== run.status;
  if (!changed) return { ...previous, run, steps: steps.steps, logs: lines, loadedAt: Date.now() };
  // The run's last lines may be written after the log was read above: once it has ended, read them too.
  const [transitions, failed, rest] = await Promise.all([
    api.transitions(session, runId), api.failedQuality(session, runId),
    previous && !ACTIVE.has(run.status) && lines.length < LOG_LINES ? api.logs(session, runId, lines.at(-1)?.id ?? 0, LOG_LINES - lines.length) : { logs: [] },
  ]);
  return { run, steps: steps.steps, transitions: transitions.transitions, logs: [...lines, ...rest.logs], failed: failed.results, loadedAt: Date.now() };
}

function Summary({ run, steps }) {
  const failedSteps = steps.filter((step) => step.status === 'failed');
  return html`<div class="card run-summary">
    <dl>
      <dt>Status</dt><dd><${StatusBadge} status=${run.status} /></dd>
      <dt>Trigger</dt><dd>${run.trigger} (${run.created_by})</dd>
      <dt>Created</dt><dd>${dateTime(run.created_at)}</dd>
      <dt>Started</dt><dd>${dateTime(run.started_at)}</dd>
      <dt>Ended</dt><dd>${dateTime(run.ended_at)}</dd>
      <dt>Duration</dt><dd>${duration(run.duration_ms)}</dd>
      <dt>Records</dt><dd>${run.records_processed}</dd>
      <dt>Parameters</dt><dd><code>${JSON.stringify(run.parameters)}</code></dd>
    </dl>
    ${run.error_message && html`<p class="error run-error" role="alert">${run.error_message}</p>`}
    ${failedSteps.map((step) => html`<p class="failed-step">Step <strong>${step.step_id}</strong> (${step.ps_type}) failed after ${step.attempts} attempt${step.attempts === 1 ? '' : 's'}: <span class="step-error">${step.error_message}</span></p>`)}
  </div>`;
}

export function RunPage({ session, runId }) {
  const [step, setStep] = useState(null);
  const [downloadError, setDownloadError] = useState(null);
  const state = useLoad((previous) => loadRun(session, runId, previous), [runId], (data) => (ACTIVE.has(data.run.status) ? POLL_MS : 0));
  const download = () => api.downloadLog(session, runId).then(() => setDownloadError(null), setDownloadError);
  if (!state.data) return html`<section><a href="#/runs">← Runs</a>${state.error ? html`<${Failure} error=${state.error} />` : html`<p class="muted">Loading the run…</p>`}</section>`;
  const { run, steps, transitions, logs, failed, loadedAt } = state.data;
  return html`<section class="run-page">
    <a href="#/runs">← Runs</a>
    <h1>${route(run)} <span class="muted small mono">${run.run_id}</span> ${ACTIVE.has(run.status) && html`<span class="live-note">live</span>`}</h1>
    <${Failure} error=${state.error} />
    <${Summary} run=${run} steps=${steps} />
    <h2>Steps</h2>
    <p class="muted small">Bars are attempts (orange: failed and retried), thin bars the waits before a retry. Click a step to see its log lines.</p>
    <${Gantt} run=${run} steps=${steps} logs=${logs} now=${loadedAt} selected=${step} onStep=${(id) => setStep(id === step ? null : id)} />
    <table class="steps">
      <thead><tr><th>Step</th><th>Processor</th><th>Status</th><th>Attempts</th><th>Started</th><th>Duration</th><th>Records</th><th>Error</th></tr></thead>
      <tbody>${steps.map((s) => html`<tr data-step=${s.step_id} class=${`step-row status-row-${s.status}`}>
        <td>${s.step_id}</td><td class="mono small">${s.ps_type}</td><td><${StatusBadge} status=${s.status} /></td><td class="num">${s.attempts}</td>
        <td>${dateTime(s.started_at)}</td><td>${duration(s.duration_ms)}</td><td class="num">${s.records_processed}</td><td class="error-cell">${s.error_message ?? ''}</td>
      </tr>`)}</tbody>
    </table>
    <h2>Data quality</h2>
    <${QualityView} steps=${steps} failed=${failed} />
    <h2>Transitions</h2>
    <ol class="transitions">${transitions.map((t) => html`<li><span class="mono small">${dateTime(t.at)}</span> ${t.from_status ?? '∅'} → <${StatusBadge} status=${t.to_status} /> <span class="muted">${t.reason}</span></li>`)}</ol>
    <h2>Log</h2>
    <${Failure} error=${downloadError} />
    <${LogView} logs=${logs} step=${step} onStep=${setStep} onDownload=${download} truncated=${logs.length >= LOG_LINES} />
  </section>`;
}
