import { html } from './html.js';
import { ACTIVE } from './format.js';

export function StatusBadge({ status }) {
  return html`<span class=${`status status-${status}${ACTIVE.has(status) ? ' live' : ''}`}>${status}</span>`;
}

export function Failure({ error }) {
  return error ? html`<p class="error" role="alert">${error.message}</p>` : null;
}
