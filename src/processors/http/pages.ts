import { ProcessorError } from '../../shared/errors.ts';
import type { HttpClient } from './http-client.ts';
import { explode, type Scoped } from './json-path.ts';
import { PaginationError, type Paginator } from './pagination.ts';

export interface Page {
  /** 1 for the first page. */
  number: number;
  url: URL;
  body: unknown;
  records: Scoped[];
}

export interface PagesOptions {
  client: HttpClient;
  paginator: Paginator;
  url: URL;
  /** Where the records are (`['data', 'results']`). */
  recordPath: string[];
  provider: string;
  /** A runaway paginator stops here with an error instead of looping. */
  maxPages?: number;
}

/**
 * The pages of one listing, fetched as the consumer takes them, with the next page requested
 * while the consumer writes the current one (the server's work and ours overlap): memory holds
 * two pages at most, whatever the listing's length.
 */
export async function* pages(options: PagesOptions): AsyncGenerator<Page> {
  const maxPages = options.maxPages ?? 100_000;
  const fetchPage = (url: URL) => {
    const response = options.client.json({ url });
    // A prefetch the consumer never awaits (it stopped, or failed first) must not be an unhandled rejection.
    response.catch(() => undefined);
    return { url, response };
  };
  let pending: { url: URL; response: ReturnType<HttpClient['json']> } | undefined = fetchPage(options.paginator.first(options.url));
  for (let number = 1; pending !== undefined; number++) {
    if (number > maxPages) throw new ProcessorError(`${options.provider} ${options.url.pathname}: more than ${maxPages} pages; stopping`, { retryable: false });
    const { url } = pending;
    const response = await pending.response;
    let records: Scoped[];
    try {
      records = explode(response.body, options.recordPath);
    } catch (error) {
      throw new ProcessorError(`${options.provider} ${url.pathname}: unexpected response shape: ${(error as Error).message}`, { retryable: false, cause: error });
    }
    let nextUrl: URL | undefined;
    try {
      nextUrl = options.paginator.next({ url, body: response.body, headers: response.headers, records: records.length });
    } catch (error) {
      if (error instanceof PaginationError) throw new ProcessorError(`${options.provider} ${url.pathname}: ${error.message}`, { retryable: false, cause: error });
      throw error;
    }
    pending = nextUrl === undefined ? undefined : fetchPage(nextUrl);
    yield { number, url, body: response.body, records };
  }
}

/** Regroups row batches to at most `size` rows, so each warehouse append is of a bounded size. */
export async function* rebatch<T>(source: AsyncIterable<T[]>, size: number): AsyncGenerator<T[]> {
  let buffer: T[] = [];
  for await (const rows of source) {
    for (const row of rows) {
      buffer.push(row);
      if (buffer.length >= size) {
        yield buffer;
        buffer = [];
      }
    }
  }
  if (buffer.length > 0) yield buffer;
}
