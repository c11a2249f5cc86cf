import { useEffect, useRef, useState } from './vendor/preact-hooks.js';

/** A run page polls 3 endpoints: 36 requests a minute, well inside the per-org rate limit (100 a minute by default). */
export const POLL_MS = 5000;
/** A list with nothing under way is read again this often, so new runs show up without a reload. */
export const IDLE_POLL_MS = 30_000;

/**
 * Loads data when `deps` change, then again after `pollEvery(data)` milliseconds while that is
 * more than 0 (runs that are still under way), giving `load` the data it loaded last so it can
 * ask only for what is new. The previous data stays on screen while a reload is under way. A
 * rate-limited poll (429) waits as long as the API's Retry-After says, then goes on.
 */
export function useLoad(load, deps, pollEvery = () => 0) {
  const [state, setState] = useState({ data: undefined, error: undefined, loading: true });
  const last = useRef(undefined);
  useEffect(() => {
    let live = true;
    let timer;
    last.current = undefined;
    const run = async () => {
      try {
        const data = await load(last.current);
        if (!live) return;
        last.current = data;
        setState({ data, error: undefined, loading: false });
        const every = pollEvery(data);
        if (every > 0) timer = setTimeout(run, every);
      } catch (error) {
        if (!live) return;
        setState((previous) => ({ ...previous, error, loading: false }));
        const every = last.current === undefined ? 0 : pollEvery(last.current);
        if (error.status === 429 && every > 0) timer = setTimeout(run, Math.max((error.retryAfterSeconds ?? 0) * 1000, every));
      }
    };
    setState((previous) => ({ ...previous, loading: true }));
    run();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, deps);
  return state;
}

/** The location hash as a route: `#/runs/<id>` is ['runs', '<id>']. */
export function useHashRoute() {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [parts, setParts] = useState(read);
  useEffect(() => {
    const changed = () => setParts(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return parts;
}
