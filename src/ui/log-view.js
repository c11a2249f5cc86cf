import { useState } from './vendor/preact-hooks.js';
import { html } from './html.js';

function matches(log, needle) {
  if (!needle) return true;
  const text = `${log.level} ${log.step_id ?? ''} ${log.message} ${log.fields ? JSON.stringify(log.fields) : ''}`.toLowerCase();
  return text.includes(needle);
}

function Highlight({ text, needle }) {
  if (!needle) return text;
  const parts = [];
  const lower = text.toLowerCase();
  let from = 0;
  for (let at = lower.indexOf(needle); at !== -1; at = lower.indexOf(needle, from)) {
    parts.push(text.slice(from, at), html`<mark>${text.slice(at, at + needle.length)}</mark>`);
    from = at + needle.length;
  }
  parts.push(text.slice(from));
  return parts;
}

/** The run's log lines, searched in the page (message, fields, step, level) and downloadable whole. */
export function LogView({ logs, step, onStep, onDownload, truncated }) {
  const [search, setSearch] = useState('');
  const [level, setLevel] = useState('');
  const needle = search.trim().toLowerCase();
  const shown = logs.filter((log) => (!step || log.step_id === step) && (!level || log.level === level) && matches(log, needle));
  const levels = [...new Set(logs.map((log) => log.level))];
  return html`<div class="logs">
    <div class="filters">
      <label>Search <input type="search" name="log-search" value=${search} onInput=${(event) => setSearch(event.target.value)} placeholder="text in a message or its fields" /></label>
      <label>Level <select name="log-level" value=${level} onChange=${(event) => setLevel(event.target.value)}>
        <option value="">all</option>${levels.map((l) => html`<option value=${l}>${l}</option>`)}
      </select></label>
      ${step && html`<span class="chip">step ${step} <button type="button" class="link" aria-label="Show every step" onClick=${() => onStep(null)}>×</button></span>`}
      <span class="muted log-count">${shown.length} of ${logs.length} lines${truncated ? ' (the first lines only: download for all)' : ''}</span>
      <button type="button" onClick=${onDownload}>Download log</button>
    </div>
    <table class="log-lines">
      <tbody>${shown.map((log) => html`<tr class=${`log-line level-${log.level}`}>
        <td class="nowrap muted">${log.at.slice(11, 23)}</td>
        <td class="nowrap">${log.level}</td>
        <td class="nowrap">${log.step_id ?? ''}</td>
        <td><${Highlight} text=${log.message} needle=${needle} />${log.fields && html` <code class="fields"><${Highlight} text=${JSON.stringify(log.fields)} needle=${needle} /></code>`}</td>
      </tr>`)}</tbody>
    </table>
  </div>`;
}
