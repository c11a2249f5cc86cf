import { html } from './html.js';
import { duration } from './format.js';

/**
 * Each step's attempts, from the run's log (the engine writes `step started` with the attempt,
 * then `step attempt failed, retrying`, `step failed` or `step completed`); the gaps between a
 * failed attempt and the next are the retry waits. A step the log says nothing of (the log was
 * cut, or the step never started) falls back to its own start and end.
 */
export function stepTimeline(steps, logs, now) {
  const rows = new Map(steps.map((step) => [step.step_id, { step, attempts: [], waits: [] }]));
  for (const log of logs) {
    const row = rows.get(log.step_id);
    if (!row) continue;
    const at = Date.parse(log.at);
    const current = row.attempts.at(-1);
    if (log.message === 'step started') {
      if (current?.end !== undefined) row.waits.push({ start: current.end, end: at });
      row.attempts.push({ attempt: log.fields?.attempt ?? row.attempts.length + 1, start: at, end: undefined, outcome: 'running' });
    } else if (current && current.end === undefined) {
      const outcome = { 'step attempt failed, retrying': 'retried', 'step failed': 'failed', 'step completed': 'completed' }[log.message];
      if (outcome) Object.assign(current, { end: at, outcome, error: log.fields?.error });
    }
  }
  for (const row of rows.values()) {
    const { step } = row;
    const ended = step.ended_at ? Date.parse(step.ended_at) : undefined;
    if (row.attempts.length === 0 && step.started_at) row.attempts.push({ attempt: step.attempts || 1, start: Date.parse(step.started_at), end: undefined, outcome: 'running' });
    const last = row.attempts.at(-1);
    if (last && last.end === undefined) Object.assign(last, { end: ended ?? now, outcome: ended ? step.status : 'running', error: ended ? step.error_message : undefined });
    if (last && ended && last.outcome !== step.status && step.status !== 'completed') last.outcome = step.status;
  }
  return [...rows.values()];
}

const LABEL = 180;
const WIDTH = 900;
const ROW = 30;

export function Gantt({ run, steps, logs, now, onStep, selected }) {
  const rows = stepTimeline(steps, logs, now);
  const times = rows.flatMap((row) => row.attempts.flatMap((a) => [a.start, a.end]));
  const start = Math.min(run.started_at ? Date.parse(run.started_at) : Infinity, ...times);
  const end = Math.max(run.ended_at ? Date.parse(run.ended_at) : now, ...times);
  if (!Number.isFinite(start)) return html`<p class="muted">No step has started yet.</p>`;
  const span = Math.max(end - start, 1);
  const x = (t) => LABEL + ((t - start) / span) * (WIDTH - LABEL - 10);
  const height = rows.length * ROW + 30;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => start + f * span);
  return html`<svg class="gantt" viewBox=${`0 0 ${WIDTH} ${height}`} role="img" aria-label="Timeline of the run's steps">
    ${ticks.map((t, i) => html`<g class="tick"><line x1=${x(t)} x2=${x(t)} y1="0" y2=${height - 20} /><text x=${x(t)} y=${height - 6} text-anchor=${i === 0 ? 'start' : i === ticks.length - 1 ? 'end' : 'middle'}>+${duration(t - start)}</text></g>`)}
    ${rows.map((row, i) => {
      const y = i * ROW + 4;
      const { step } = row;
      return html`<g class=${`gantt-row${selected === step.step_id ? ' selected' : ''}`} data-step=${step.step_id} onClick=${() => onStep(step.step_id)}>
        <rect class="row-hit" x="0" y=${y - 2} width=${WIDTH} height=${ROW} />
        <text class="step-label" x="4" y=${y + 17}>${step.step_id}</text>
        <text class=${`step-status status-text-${step.status}`} x=${LABEL - 8} y=${y + 17} text-anchor="end">${step.attempts > 1 ? `${step.attempts}× ` : ''}${step.status}</text>
        ${row.waits.map((wait) => html`<rect class="wait" x=${x(wait.start)} y=${y + 10} width=${Math.max(x(wait.end) - x(wait.start), 1)} height="6"><title>retry wait ${duration(wait.end - wait.start)}</title></rect>`)}
        ${row.attempts.map((a) => html`<rect class=${`attempt attempt-${a.outcome}`} data-attempt=${a.attempt} x=${x(a.start)} y=${y + 3} width=${Math.max(x(a.end) - x(a.start), 2)} height="20" rx="3">
          <title>${step.step_id}, attempt ${a.attempt}: ${a.outcome}, ${duration(a.end - a.start)}${a.error ? `\n${a.error}` : ''}</title></rect>`)}
      </g>`;
    })}
  </svg>`;
}
