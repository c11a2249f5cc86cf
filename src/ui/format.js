// How values are written on the page, in one place.
export const ACTIVE = new Set(['pending', 'validating', 'running']);

export function dateTime(value) {
  if (!value) return '—';
  const date = new Date(value);
  return `${date.toISOString().slice(0, 10)} ${date.toISOString().slice(11, 19)} UTC`;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Amounts arrive as exact decimal text; shown in the currency, to the cent. */
export function money(text, currency) {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(Number(text));
}

export const route = (item) => `${item.provider}/${item.domain}/${item.pipeline}`;
