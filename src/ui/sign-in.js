import { useState } from './vendor/preact-hooks.js';
import { signIn } from './api.js';
import { html } from './html.js';

export function SignIn({ onSignedIn }) {
  const [kind, setKind] = useState('org');
  const [key, setKey] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(kind, key.trim()));
    } catch (failure) {
      setError(failure.status === 401 ? `The API refused this key: ${failure.message}` : failure.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="sign-in card" onSubmit=${submit}>
    <h1>Sign in</h1>
    <fieldset>
      <legend>Key</legend>
      <label><input type="radio" name="kind" value="org" checked=${kind === 'org'} onChange=${() => setKind('org')} /> Organisation API key (X-API-Key)</label>
      <label><input type="radio" name="kind" value="root" checked=${kind === 'root'} onChange=${() => setKind('root')} /> Root key, every organisation (X-CA-Root-Key)</label>
    </fieldset>
    <label>${kind === 'root' ? 'Root key' : 'API key'}
      <input name="key" type="password" autocomplete="off" required value=${key} onInput=${(event) => setKey(event.target.value)} placeholder=${kind === 'root' ? 'CA_ROOT_API_KEY' : 'pk_<org>_…'} />
    </label>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <button type="submit" disabled=${busy}>${busy ? 'Checking…' : 'Sign in'}</button>
    <p class="muted small">The key is kept in this tab only (sessionStorage) and sent only to this service's API.</p>
  </form>`;
}
