import { api } from './api.js';
import { dateTime } from './format.js';
import { POLL_MS, useLoad } from './hooks.js';
import { html } from './html.js';
import { Failure, StatusBadge } from './status-badge.js';

function Section({ title, state, empty, children }) {
  return html`<section class="card">
    <h2>${title}</h2>
    <${Failure} error=${state.error} />
    ${state.data === undefined ? !state.error && html`<p class="muted">Loading…</p>` : empty ? html`<p class="muted">${empty}</p>` : children}
  </section>`;
}

const runLink = (runId, status) => (runId ? html`<a href=${`#/runs/${runId}`}>${status ? html`<${StatusBadge} status=${status} />` : 'run'}</a>` : '—');

function Schedules({ session }) {
  const state = useLoad(() => api.schedules(session), []);
  const schedules = state.data?.schedules ?? [];
  return html`<${Section} title="Schedules" state=${state} empty=${schedules.length === 0 && 'No schedules: a pipeline with a schedule in its YAML gets one.'}>
    <table class="schedules"><thead><tr><th>Pipeline</th><th>Cron</th><th>Enabled</th><th>Next run</th><th>Last tick</th><th>Last outcome</th><th>Last run</th></tr></thead>
      <tbody>${schedules.map((s) => html`<tr>
        <td>${s.provider}/${s.domain}/${s.pipeline}</td><td class="mono">${s.cron_expression} <span class="muted small">${s.timezone}</span></td>
        <td>${s.is_enabled ? 'yes' : 'no'}</td><td>${s.is_enabled ? dateTime(s.next_run_at) : '—'}</td><td>${dateTime(s.last_tick_at)}</td>
        <td>${s.last_outcome ?? '—'}${s.last_reason && html` <span class="muted small">${s.last_reason}</span>`}</td><td>${runLink(s.last_run_id, s.last_run_status)}</td>
      </tr>`)}</tbody></table>
  </${Section}>`;
}

function Backfills({ session }) {
  const state = useLoad(() => api.backfills(session), [], (data) => (data.backfills.some((b) => b.status === 'running' || b.status === 'cancelling') ? POLL_MS : 0));
  const backfills = state.data?.backfills ?? [];
  return html`<${Section} title="Backfills" state=${state} empty=${backfills.length === 0 && 'No backfills.'}>
    <table class="backfills"><thead><tr><th>Pipeline</th><th>Days</th><th>Status</th><th>Progress</th><th>Outcomes</th><th>Created</th></tr></thead>
      <tbody>${backfills.map((b) => html`<tr>
        <td>${b.route}</td><td>${b.start_date} to ${b.end_date} <span class="muted small">(${b.mode})</span></td><td>${b.status}</td>
        <td><progress max=${b.progress.total} value=${b.progress.done}></progress> ${b.progress.done}/${b.progress.total} (${b.progress.percent} %)</td>
        <td class="small">${Object.entries(b.counts).filter(([, n]) => n > 0).map(([outcome, n]) => `${outcome} ${n}`).join(', ')}${b.last_deferral && html`<div class="muted">${b.last_deferral}</div>`}</td>
        <td>${dateTime(b.created_at)}</td>
      </tr>`)}</tbody></table>
  </${Section}>`;
}

function Alerts({ session }) {
  const state = useLoad(() => api.alerts(session), []);
  const alerts = state.data?.alerts ?? [];
  return html`<${Section} title=${`Cost alerts${state.data ? ` · ${state.data.open} open` : ''}`} state=${state} empty=${alerts.length === 0 && 'No cost alerts.'}>
    <table class="alerts"><thead><tr><th>Rule</th><th>Group</th><th>Period</th><th>Status</th><th>Level</th><th>Opened</th></tr></thead>
      <tbody>${alerts.map((a) => html`<tr class=${`alert-${a.status}`}>
        <td>${a.rule_name} <span class="muted small">${a.rule_kind}</span></td><td>${a.group_key || '—'}</td><td>${a.period_start} to ${a.period_end}</td>
        <td>${a.status}${a.resolution && html` <span class="muted small">${a.resolution}</span>`}</td><td class="num">${a.level}</td><td>${dateTime(a.opened_at)}</td>
      </tr>`)}</tbody></table>
  </${Section}>`;
}

function Notifications({ session }) {
  const state = useLoad(() => api.notificationHistory(session), []);
  const attempts = state.data?.attempts ?? [];
  return html`<${Section} title="Notification history" state=${state} empty=${attempts.length === 0 && 'Nothing sent yet.'}>
    <table class="notifications"><thead><tr><th>When</th><th>Channel</th><th>Message</th><th>Attempt</th><th>Status</th><th>Response</th><th>Run</th></tr></thead>
      <tbody>${attempts.map((a) => html`<tr>
        <td>${dateTime(a.started_at)}</td><td>${a.channel} <span class="muted small">${a.channel_kind}</span></td><td>${a.message_kind}${a.pipeline && html` <span class="muted small">${a.pipeline}</span>`}</td>
        <td class="num">${a.attempt}</td><td>${a.status}</td><td>${a.response_code ?? ''}${a.error && html` <span class="error-cell">${a.error}</span>`}</td><td>${runLink(a.run_id)}</td>
      </tr>`)}</tbody></table>
  </${Section}>`;
}

export function OperationsPage({ session }) {
  return html`<div class="operations">
    <h1>Schedules & alerts</h1>
    <${Schedules} session=${session} />
    <${Backfills} session=${session} />
    <${Alerts} session=${session} />
    <${Notifications} session=${session} />
  </div>`;
}
