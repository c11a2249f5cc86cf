/**
 * Which objects of a bucket a source pattern names, as a listing prefix and a test of each
 * listed name. Globs as in shells and gsutil: `*` and `?` within one `/`-separated segment,
 * `**` across segments (`a/**` + `/x.csv` matches `a/x.csv` too); every other character stands
 * for itself. Without glob characters the pattern names one object, or else every object below
 * it as a folder (`cur` and `cur/` both read `cur/...`, never `cur2/...`).
 */
export interface ObjectSelection {
  /** The literal text before the first glob character: the provider lists only names starting with it. */
  prefix: string;
  /**
   * The one object the pattern names, when it names one (no glob, no trailing `/`). Listings are
   * in name order, so it is the first name listed under `prefix` when it exists; it is then the
   * only object read.
   */
  exact: string | undefined;
  /** Whether a listed name is selected (when `exact` was not found: the objects below it as a folder). */
  matches(name: string): boolean;
}

const GLOB = /[*?]/;

export function selectObjects(pattern: string): ObjectSelection {
  const first = pattern.search(GLOB);
  if (first < 0) {
    const folder = pattern === '' || pattern.endsWith('/') ? pattern : `${pattern}/`;
    return { prefix: pattern, exact: folder === pattern ? undefined : pattern, matches: (name) => name.startsWith(folder) };
  }
  const regex = new RegExp(`^${globSource(pattern)}$`, 's');
  return { prefix: pattern.slice(0, first), exact: undefined, matches: (name) => regex.test(name) };
}

function globSource(pattern: string): string {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '*' && pattern[i + 1] === '*') {
      // `**/` may match no folder at all; a bare `**` anything, slashes included.
      if (pattern[i + 2] === '/') {
        source += '(?:.*/)?';
        i += 2;
      } else {
        source += '.*';
        i += 1;
      }
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return source;
}
