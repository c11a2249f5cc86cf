import { render } from './vendor/preact.js';
import { useState } from './vendor/preact-hooks.js';
import { clearSession, loadSession, saveSession } from './api.js';
import { CostPage } from './cost-page.js';
import { useHashRoute } from './hooks.js';
import { html } from './html.js';
import { OperationsPage } from './operations-page.js';
import { RunPage } from './run-page.js';
import { RunsPage } from './runs-page.js';
import { SignIn } from './sign-in.js';

const SECTIONS = [
  ['runs', 'Runs'],
  ['cost', 'Cost'],
  ['operations', 'Schedules & alerts'],
];

function Header({ session, section, onOrg, onSignOut }) {
  return html`<header class="top">
    <strong class="brand">FinOps pipelines</strong>
    <nav>${SECTIONS.map(([id, label]) => html`<a href=${`#/${id}`} class=${section === id ? 'current' : ''}>${label}</a>`)}</nav>
    <span class="spacer"></span>
    ${session.kind === 'root'
      ? html`<label class="org">Organisation <select aria-label="Organisation" value=${session.org ?? ''} onChange=${(event) => onOrg(event.target.value)}>
          ${session.orgs.map((slug) => html`<option value=${slug}>${slug}</option>`)}
        </select> <span class="badge">root key</span></label>`
      : html`<span class="org">Organisation <strong>${session.org}</strong></span>`}
    <button type="button" class="link" onClick=${onSignOut}>Sign out</button>
  </header>`;
}

function Page({ session, parts }) {
  if (!session.org) return html`<p class="pad">There is no organisation yet: create one with <code>POST /api/v1/admin/orgs</code>.</p>`;
  const [section = 'runs', id] = parts;
  // Keyed by org, so a root user switching org never sees the previous org's data.
  if (section === 'runs' && id) return html`<${RunPage} key=${`${session.org}/${id}`} session=${session} runId=${id} />`;
  if (section === 'cost') return html`<${CostPage} key=${session.org} session=${session} />`;
  if (section === 'operations') return html`<${OperationsPage} key=${session.org} session=${session} />`;
  return html`<${RunsPage} key=${session.org} session=${session} />`;
}

function App() {
  const [session, setSession] = useState(loadSession);
  const parts = useHashRoute();
  const keep = (next) => {
    if (next) saveSession(next);
    else clearSession();
    setSession(next);
  };
  if (!session) return html`<${SignIn} onSignedIn=${keep} />`;
  return html`<${Header} session=${session} section=${parts[0] ?? 'runs'} onOrg=${(org) => keep({ ...session, org })} onSignOut=${() => keep(null)} />
    <main><${Page} session=${session} parts=${parts} /></main>`;
}

const root = document.getElementById('app');
root.replaceChildren(); // the "Loading" text, which Preact would keep beside the app
render(html`<${App} />`, root);
