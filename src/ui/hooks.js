import { useEffect, useState } from './vendor/preact-hooks.js';

export const POLL_MS = 2000;

/**
 * Loads data when `deps` change; while `pollWhile(data)` holds, loads it again every POLL_MS
 * (runs that are still under way). The previous data stays on screen while a reload is under way.
 */
export function useLoad(load, deps, pollWhile = () => false) {
  const [state, setState] = useState({ data: undefined, error: undefined, loading: true });
  useEffect(() => {
    let live = true;
    let timer;
    const run = async () => {
      try {
        const data = await load();
        if (!live) return;
        setState({ data, error: undefined, loading: false });
        if (pollWhile(data)) timer = setTimeout(run, POLL_MS);
      } catch (error) {
        if (live) setState((previous) => ({ ...previous, error, loading: false }));
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
