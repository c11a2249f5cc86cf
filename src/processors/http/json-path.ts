/**
 * The small path language of the extractor configs: `a.b.c` walks objects; a record path of
 * several segments (`data`, then `results`) explodes nested arrays, and a field path may climb
 * to the enclosing records with `../` (`../start_time` is the bucket's start of a result).
 */
export function getPath(value: unknown, path: string): unknown {
  if (path === '' || path === '.') return value;
  let current = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** A record with the records enclosing it, innermost first after itself. */
export interface Scoped {
  record: unknown;
  parents: unknown[];
}

/**
 * The records of a page: each segment of `recordPath` names an array inside the records of the
 * previous one (`['data', 'results']`: every result of every bucket). A missing array is an
 * empty one (an empty bucket); anything else that is not an array is an error of the response.
 */
export function explode(body: unknown, recordPath: string[]): Scoped[] {
  // No path: the body is the list (or, not being one, the only record).
  if (recordPath.length === 0) return Array.isArray(body) ? body.map((record) => ({ record, parents: [body] })) : [{ record: body, parents: [] }];
  let level: Scoped[] = [{ record: body, parents: [] }];
  for (const segment of recordPath) {
    const next: Scoped[] = [];
    for (const scoped of level) {
      const items = getPath(scoped.record, segment);
      if (items === undefined || items === null) continue;
      if (!Array.isArray(items)) throw new Error(`expected an array at "${segment}", got ${typeof items}`);
      for (const item of items) next.push({ record: item, parents: [scoped.record, ...scoped.parents] });
    }
    level = next;
  }
  return level;
}

/** A field of a scoped record: `../x` reads from the enclosing record, `../../x` from the one above. */
export function getField(scoped: Scoped, path: string): unknown {
  let depth = 0;
  let rest = path;
  while (rest.startsWith('../')) {
    depth += 1;
    rest = rest.slice(3);
  }
  const base = depth === 0 ? scoped.record : scoped.parents[depth - 1];
  return getPath(base, rest);
}
