import { useState } from './vendor/preact-hooks.js';
import { api } from './api.js';
import { CostChart } from './cost-chart.js';
import { money } from './format.js';
import { useLoad } from './hooks.js';
import { html } from './html.js';
import { Failure } from './status-badge.js';

/** FOCUS cost per charge day, stacked by provider or service, and this month's total so far. */
export function CostPage({ session }) {
  const [query, setQuery] = useState({ group_by: 'provider', cost_column: 'EffectiveCost', from: '', to: '' });
  const state = useLoad(() => api.dailyCost(session, query), [JSON.stringify(query)]);
  const field = (name) => (event) => setQuery({ ...query, [name]: event.target.value });
  const summary = state.data;
  return html`<section class="cost-page">
    <h1>Cost</h1>
    <form class="filters" onSubmit=${(event) => event.preventDefault()}>
      <label>Stack by <select name="group_by" value=${query.group_by} onChange=${field('group_by')}><option value="provider">provider</option><option value="service">service</option></select></label>
      <label>Cost <select name="cost_column" value=${query.cost_column} onChange=${field('cost_column')}><option value="EffectiveCost">EffectiveCost</option><option value="BilledCost">BilledCost</option></select></label>
      <label>From <input type="date" name="from" value=${query.from || summary?.from || ''} onChange=${field('from')} /></label>
      <label>to <input type="date" name="to" value=${query.to || summary?.to || ''} onChange=${field('to')} /></label>
    </form>
    <${Failure} error=${state.error} />
    ${summary ? html`
      <div class="totals">
        <div class="card total">
          <div class="muted small">Month to date · ${summary.month_to_date.from} to ${summary.month_to_date.through}</div>
          <div class="amount" data-testid="mtd-total" data-amount=${summary.month_to_date.total}>${money(summary.month_to_date.total, summary.currency)}</div>
        </div>
        <div class="card total">
          <div class="muted small">${summary.from} to ${summary.to} · ${summary.cost_column}</div>
          <div class="amount" data-testid="range-total" data-amount=${summary.total}>${money(summary.total, summary.currency)}</div>
        </div>
      </div>
      ${summary.other_currencies.length > 0 && html`<p class="muted">Also billed in ${summary.other_currencies.join(', ')}: not counted in these ${summary.currency} amounts.</p>`}
      ${summary.days.length === 0 ? html`<p class="muted">No FOCUS cost in these days.</p>` : html`
        <${CostChart} summary=${summary} />
        <table class="groups">
          <thead><tr><th>${summary.group_by}</th><th class="num">Total</th></tr></thead>
          <tbody>${summary.groups.map((g) => html`<tr><td>${g.group}</td><td class="num">${money(g.total, summary.currency)}</td></tr>`)}</tbody>
        </table>`}`
    : !state.error && html`<p class="muted">Loading cost…</p>`}
  </section>`;
}
