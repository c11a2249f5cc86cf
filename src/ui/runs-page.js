import { useState } from './vendor/preact-hooks.js';
import { api } from './api.js';
import { ACTIVE, dateTime, duration, route } from './format.js';
import { IDLE_POLL_MS, POLL_MS, useLoad } from './hooks.js';
import { html } from './html.js';
import { Failure, StatusBadge } from './status-badge.js';

const STATUSES = ['pending', 'validating', 'running', 'completed', 'failed', 'cancelled'];
const TRIGGERS = ['api', 'cli', 'schedule', 'backfill'];
const PAGE = 50;

function query(filters, cursor) {
  const [provider, domain, pipeline] = filters.route ? filters.route.split('/') : [];
  return { provider, domain, pipeline, status: filters.status, trigger: filters.trigger, from: filters.from, to: filters.to, limit: PAGE, cursor };
}

function Filters({ filters, onChange, pipelines }) {
  const field = (name) => (event) => onChange({ ...filters, [name]: event.target.value });
  return html`<form class="filters" onSubmit=${(event) => event.preventDefault()}>
    <label>Pipeline <select name="pipeline" value=${filters.route} onChange=${field('route')}>
      <option value="">all</option>
      ${pipelines.map((p) => html`<option value=${p.route}>${p.route}</option>`)}
    </select></label>
    <label>Status <select name="status" value=${filters.status} onChange=${field('status')}>
      <option value="">all</option>${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
    </select></label>
    <label>Trigger <select name="trigger" value=${filters.trigger} onChange=${field('trigger')}>
      <option value="">all</option>${TRIGGERS.map((t) => html`<option value=${t}>${t}</option>`)}
    </select></label>
    <label>Created from <input type="date" name="from" value=${filters.from} onChange=${field('from')} /></label>
    <label>to <input type="date" name="to" value=${filters.to} onChange=${field('to')} /></label>
  </form>`;
}

export function RunsPage({ session }) {
  const [filters, setFilters] = useState({ route: '', status: '', trigger: '', from: '', to: '' });
  const [older, setOlder] = useState({ runs: [], cursor: undefined, error: undefined });
  const pipelines = useLoad(() => api.pipelines(session), []);
  // The first page is polled often while one of its runs is under way, else now and then for new
  // runs; older pages are read on demand.
  const first = useLoad(() => api.runs(session, query(filters)), [JSON.stringify(filters)], (data) => (data.runs.some((run) => ACTIVE.has(run.status)) ? POLL_MS : IDLE_POLL_MS));
  const change = (next) => {
    setOlder({ runs: [], cursor: undefined });
    setFilters(next);
  };
  const cursor = older.cursor === undefined ? first.data?.next_cursor : older.cursor;
  const more = async () => {
    try {
      const page = await api.runs(session, query(filters, cursor));
      setOlder({ runs: [...older.runs, ...page.runs], cursor: page.next_cursor });
    } catch (error) {
      setOlder({ ...older, error });
    }
  };
  const newest = first.data?.runs ?? [];
  // The first page moves while it is polled: an older page may repeat some of its runs.
  const shown = new Set(newest.map((run) => run.run_id));
  const runs = [...newest, ...older.runs.filter((run) => !shown.has(run.run_id))];
  const live = runs.some((run) => ACTIVE.has(run.status));
  return html`<section>
    <h1>Runs ${live && html`<span class="live-note" title=${`refreshed every ${POLL_MS / 1000} s`}>live</span>`}</h1>
    <${Filters} filters=${filters} onChange=${change} pipelines=${pipelines.data?.pipelines ?? []} />
    <${Failure} error=${first.error ?? pipelines.error ?? older.error} />
    ${first.loading && !first.data ? html`<p class="muted">Loading runs…</p>`
      : runs.length === 0 ? html`<p class="muted">No runs match these filters.</p>`
      : html`<table class="runs">
        <thead><tr><th>Status</th><th>Pipeline</th><th>Trigger</th><th>Created</th><th>Duration</th><th>Records</th><th>Error</th></tr></thead>
        <tbody>${runs.map((run) => html`<tr data-run-id=${run.run_id} class=${`run-row status-row-${run.status}`}>
          <td><${StatusBadge} status=${run.status} /></td>
          <td><a href=${`#/runs/${run.run_id}`}>${route(run)}</a>${Object.keys(run.parameters).length > 0 && html`<div class="muted small">${Object.entries(run.parameters).map(([k, v]) => `${k}=${v}`).join(' ')}</div>`}</td>
          <td>${run.trigger}</td>
          <td>${dateTime(run.created_at)}</td>
          <td>${duration(run.duration_ms)}</td>
          <td class="num">${run.records_processed}</td>
          <td class="error-cell">${run.error_message ?? ''}</td>
        </tr>`)}</tbody>
      </table>`}
    ${cursor && html`<button type="button" onClick=${more}>Older runs</button>`}
  </section>`;
}
