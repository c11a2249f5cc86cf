import { html } from './html.js';

function Examples({ rows }) {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  return html`<table class="examples">
    <thead><tr>${columns.map((c) => html`<th>${c}</th>`)}</tr></thead>
    <tbody>${rows.map((row) => html`<tr>${columns.map((c) => html`<td>${row[c] === null || row[c] === undefined ? '' : typeof row[c] === 'object' ? JSON.stringify(row[c]) : String(row[c])}</td>`)}</tr>`)}</tbody>
  </table>`;
}

/** Each step's quality counts, then every failed rule with the example rows the check kept. */
export function QualityView({ steps, failed }) {
  const checked = steps.filter((step) => step.quality.pass + step.quality.fail + step.quality.warn + step.quality.skipped > 0);
  if (checked.length === 0) return html`<p class="muted">No data-quality checks ran in this run.</p>`;
  return html`<div class="quality">
    <table><thead><tr><th>Step</th><th>Passed</th><th>Failed</th><th>Warnings</th><th>Skipped</th></tr></thead>
      <tbody>${checked.map((step) => html`<tr><td>${step.step_id}</td><td class="num">${step.quality.pass}</td><td class="num">${step.quality.fail}</td><td class="num">${step.quality.warn}</td><td class="num">${step.quality.skipped}</td></tr>`)}</tbody>
    </table>
    ${failed.map((result) => html`<article class="failed-rule">
      <h4><span class="status status-failed">${result.level}</span> ${result.rule_id} <span class="muted small">${result.step_id} · ${result.check_kind} · ${result.failing_rows} failing row${result.failing_rows === 1 ? '' : 's'}</span></h4>
      <p>${result.description}</p>
      ${Array.isArray(result.details?.examples) && result.details.examples.length > 0 && html`<${Examples} rows=${result.details.examples} />`}
      ${result.details && !result.details.examples && html`<pre class="details">${JSON.stringify(result.details, null, 2)}</pre>`}
    </article>`)}
  </div>`;
}
