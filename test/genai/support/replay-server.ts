import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as the server saw it, for assertions on auth headers, parameters and pacing. */
export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON. */
  body?: unknown;
}

export type Handler = (request: SeenRequest) => Reply | Promise<Reply>;

/** Misbehaviour injected before the normal answer, consumed in order per path. */
export type Fault =
  | { kind: 'status'; status: number; body?: unknown; retryAfter?: string; retryAfterMs?: string }
  /** Declares the full length, sends half of the body, then drops the connection. */
  | { kind: 'truncate' }
  /** Resets the connection without an answer. */
  | { kind: 'reset' }
  /** Waits before answering normally (a slow server). */
  | { kind: 'slow'; ms: number };

export interface ReplayServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  requests: SeenRequest[];
  /** Faults for a path (matched by prefix), applied to its next requests one by one. */
  inject(pathPrefix: string, ...faults: Fault[]): void;
  close(): Promise<void>;
}

/**
 * A local HTTP server on 127.0.0.1 and an ephemeral port, routing by path prefix to handlers that
 * speak a provider's wire format (see the provider modules beside this one).
 */
export async function replayServer(routes: Record<string, Handler>): Promise<ReplayServer> {
  const requests: SeenRequest[] = [];
  const faults: { prefix: string; fault: Fault }[] = [];
  const prefixes = Object.keys(routes).sort((a, b) => b.length - a.length);

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const seen: SeenRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
        requests.push(seen);
        const faultIndex = faults.findIndex((entry) => url.pathname.startsWith(entry.prefix));
        const fault = faultIndex >= 0 ? faults.splice(faultIndex, 1)[0]?.fault : undefined;
        if (fault?.kind === 'reset') return req.socket.destroy();
        if (fault?.kind === 'status') {
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
          if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = fault.retryAfterMs;
          res.writeHead(fault.status, headers);
          return res.end(JSON.stringify(fault.body ?? { error: { message: `injected ${fault.status}`, type: 'server_error' } }));
        }
        if (fault?.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.ms).unref());
        const prefix = prefixes.find((candidate) => url.pathname.startsWith(candidate));
        const reply: Reply = prefix ? await routes[prefix]!(seen) : { status: 404, body: { error: { message: `no route ${url.pathname}` } } };
        const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? null);
        if (res.destroyed) return;
        if (fault?.kind === 'truncate') {
          res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...reply.headers });
          res.write(text.slice(0, Math.floor(text.length / 2)));
          return setTimeout(() => req.socket.destroy(), 5);
        }
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
        res.end(text);
      })().catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(error) } }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inject(prefix, ...more) {
      for (const fault of more) faults.push({ prefix, fault });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The values of an array parameter in either spelling: `group_by=a&group_by=b` or `group_by[]=a`. */
export function arrayParam(query: URLSearchParams, name: string): string[] {
  return [...query.getAll(name), ...query.getAll(`${name}[]`)];
}
