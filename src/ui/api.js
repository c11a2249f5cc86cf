// The JSON API with the key the user signed in with. The key lives in sessionStorage only: it is
// gone when the tab closes, and never sent anywhere but this origin's API.
const SESSION_KEY = 'finops-dashboard';

export function loadSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
    return session && typeof session.key === 'string' ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

export class ApiError extends Error {
  constructor(status, message, code, retryAfterSeconds) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

function headers(session) {
  return session.kind === 'root' ? { 'X-CA-Root-Key': session.key } : { 'X-API-Key': session.key };
}

export function withQuery(path, query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function request(session, path, query) {
  const response = await fetch(withQuery(path, query), { headers: session ? headers(session) : {} });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    const retryAfter = Number(response.headers.get('retry-after'));
    throw new ApiError(response.status, body?.error?.message ?? `${response.status} ${response.statusText}`, body?.error?.code, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined);
  }
  return response;
}

export async function getJson(session, path, query) {
  return (await request(session, path, query)).json();
}

/** A file from the API saved by the browser: the key goes in a header, so a plain link cannot fetch it. */
export async function download(session, path, filename) {
  const blob = await (await request(session, path)).blob();
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement('a'), { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Org keys are `pk_<org>_<43 characters>` (src/shared/ids.ts): the org is read from the key, then checked by the API. */
export function orgOfKey(key) {
  return /^pk_[a-z][a-z0-9_]{1,48}[a-z0-9]_[A-Za-z0-9_-]{43}$/.test(key) ? key.slice(3, -44) : null;
}

/** Checks the key against the API and returns the session to keep. */
export async function signIn(kind, key) {
  if (kind === 'root') {
    const { orgs } = await getJson({ kind, key }, '/api/v1/admin/orgs');
    const slugs = orgs.map((org) => org.org_slug).sort();
    return { kind, key, orgs: slugs, org: slugs[0] ?? null };
  }
  const org = orgOfKey(key);
  if (!org) throw new ApiError(400, 'This is not an organisation API key (pk_<org>_…): check it was copied whole');
  await getJson({ kind, key }, `/api/v1/pipelines/history/${org}`, { limit: 1 });
  return { kind, key, orgs: [org], org };
}

const org = (session) => encodeURIComponent(session.org);

export const api = {
  pipelines: (session) => getJson(session, '/api/v1/validator/pipelines'),
  runs: (session, filters) => getJson(session, `/api/v1/pipelines/history/${org(session)}`, filters),
  run: (session, runId) => getJson(session, `/api/v1/pipelines/status/${org(session)}/${runId}`),
  steps: (session, runId) => getJson(session, `/api/v1/pipelines/logs/${org(session)}/${runId}/steps`),
  transitions: (session, runId) => getJson(session, `/api/v1/pipelines/logs/${org(session)}/${runId}/transitions`),
  logs: (session, runId, afterId, limit) => getJson(session, `/api/v1/pipelines/logs/${org(session)}/${runId}`, { after_id: afterId, limit }),
  failedQuality: (session, runId) => getJson(session, `/api/v1/pipelines/logs/${org(session)}/${runId}/quality`, { status: 'fail' }),
  downloadLog: (session, runId) => download(session, `/api/v1/pipelines/logs/${org(session)}/${runId}/download`, `run-${runId}.log.jsonl`),
  dailyCost: (session, query) => getJson(session, `/api/v1/focus/daily-cost/${org(session)}`, query),
  schedules: (session) => getJson(session, `/api/v1/pipelines/schedules/${org(session)}`),
  backfills: (session) => getJson(session, `/api/v1/pipelines/backfill/${org(session)}`, { limit: 20 }),
  alerts: (session) => getJson(session, `/api/v1/alerts/${org(session)}`, { limit: 50 }),
  notificationHistory: (session) => getJson(session, `/api/v1/notifications/${org(session)}/history`, { limit: 50 }),
};
