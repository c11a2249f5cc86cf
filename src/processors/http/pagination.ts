import { Type, type Static } from '@sinclair/typebox';
import { getPath } from './json-path.ts';

/** The seeds' four pagination types, plus none. */
export const PaginationSchema = Type.Union([
  Type.Object({ type: Type.Literal('none') }, { additionalProperties: false }),
  Type.Object(
    {
      type: Type.Literal('cursor'),
      /** Query parameter that carries the cursor (`page` at OpenAI and Anthropic, `pageToken` at Google). */
      param: Type.String({ minLength: 1 }),
      /** Where the next cursor is in the body (`next_page`, `nextPageToken`). */
      cursor_path: Type.String({ minLength: 1 }),
      /** A boolean in the body that says whether there is more (`has_more`); absent: a cursor means more. */
      has_more_path: Type.Optional(Type.String({ minLength: 1 })),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('offset'),
      offset_param: Type.String({ minLength: 1 }),
      limit_param: Type.String({ minLength: 1 }),
      limit: Type.Integer({ minimum: 1 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('page'),
      page_param: Type.String({ minLength: 1 }),
      /** Number of the first page (1 by default). */
      start: Type.Optional(Type.Integer({ minimum: 0 })),
      size_param: Type.Optional(Type.String({ minLength: 1 })),
      size: Type.Optional(Type.Integer({ minimum: 1 })),
      /** Where the body says how many pages there are. */
      total_pages_path: Type.Optional(Type.String({ minLength: 1 })),
    },
    { additionalProperties: false },
  ),
  Type.Object({ type: Type.Literal('link') }, { additionalProperties: false, description: 'RFC 8288 Link header, rel="next"' }),
]);
export type PaginationConfig = Static<typeof PaginationSchema>;

/** What a strategy sees of the page just read. */
export interface PageSeen {
  url: URL;
  body: unknown;
  headers: Headers;
  /** Records the page held. */
  records: number;
}

export interface Paginator {
  /** The first request's URL. */
  first(url: URL): URL;
  /** The next page's URL, or undefined when this was the last. */
  next(page: PageSeen): URL | undefined;
}

export class PaginationError extends Error {}

export function paginator(config: PaginationConfig): Paginator {
  switch (config.type) {
    case 'none':
      return { first: (url) => url, next: () => undefined };
    case 'cursor': {
      const seen = new Set<string>();
      return {
        first: (url) => url,
        next(page) {
          const cursor = getPath(page.body, config.cursor_path);
          const hasMore = config.has_more_path === undefined ? undefined : getPath(page.body, config.has_more_path);
          if (hasMore === false || cursor === null || cursor === undefined || cursor === '') return undefined;
          if (typeof cursor !== 'string' && typeof cursor !== 'number') throw new PaginationError(`the cursor at "${config.cursor_path}" is a ${typeof cursor}`);
          const value = String(cursor);
          // A server that hands out a cursor twice would page forever.
          if (seen.has(value)) throw new PaginationError(`the server returned the cursor "${value}" twice`);
          seen.add(value);
          return withParam(page.url, config.param, value);
        },
      };
    }
    case 'offset':
      return {
        first: (url) => withParam(withParam(url, config.limit_param, String(config.limit)), config.offset_param, '0'),
        next(page) {
          if (page.records < config.limit) return undefined;
          const offset = Number(page.url.searchParams.get(config.offset_param) ?? 0) + config.limit;
          return withParam(page.url, config.offset_param, String(offset));
        },
      };
    case 'page': {
      const start = config.start ?? 1;
      return {
        first(url) {
          const sized = config.size_param && config.size ? withParam(url, config.size_param, String(config.size)) : url;
          return withParam(sized, config.page_param, String(start));
        },
        next(page) {
          const current = Number(page.url.searchParams.get(config.page_param) ?? start);
          if (page.records === 0 || (config.size !== undefined && page.records < config.size)) return undefined;
          if (config.total_pages_path !== undefined) {
            const total = Number(getPath(page.body, config.total_pages_path));
            if (Number.isFinite(total) && current - start + 1 >= total) return undefined;
          }
          return withParam(page.url, config.page_param, String(current + 1));
        },
      };
    }
    case 'link':
      return {
        first: (url) => url,
        next(page) {
          const next = nextLink(page.headers.get('link'));
          return next === undefined ? undefined : new URL(next, page.url);
        },
      };
  }
}

function withParam(url: URL, name: string, value: string): URL {
  const copy = new URL(url);
  copy.searchParams.set(name, value);
  return copy;
}

/** The target of `rel="next"` in an RFC 8288 Link header (`<url>; rel="next", <url>; rel="prev"`). */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!match) continue;
    const rel = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(match[2] ?? '');
    if (rel && (rel[1] ?? '').split(/\s+/).includes('next')) return match[1];
  }
  return undefined;
}
