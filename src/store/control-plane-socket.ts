import { chmodSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { deserialize, serialize } from 'node:v8';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import type { Db, Queryable } from './db.ts';

/**
 * The embedded control plane served to the other processes of one data folder (a CLI next to
 * a running server). PGlite is one session, so the owner keeps every transaction whole: a
 * client's BEGIN..COMMIT runs inside `pglite.transaction`, which holds PGlite's own transaction
 * mutex against the owner's queries, and each request is one whole statement.
 *
 * Why not the PostgreSQL wire protocol (`@electric-sql/pglite-socket`): it forwards each
 * protocol message on its own, so the Parse/Bind/Execute of two connections interleave on
 * PGlite's one unnamed statement ("bind message supplies 3 parameters, but prepared statement
 * \"\" requires 2", upstream pglite issue #1046), and its queue takes PGlite's query mutex
 * only, so a socket transaction and the owner's interleave too.
 *
 * Frames are a 4-byte length and a V8-serialised message: dates, bigints and JSON values
 * cross unchanged, as they come from PGlite in the owner.
 */
type Request = { id: number; op: 'query'; sql: string; params?: unknown[] } | { id: number; op: 'begin' | 'commit' | 'rollback' } | { id: number; op: 'exec'; sql: string };
type Outgoing = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;
type Response = { id: number; rows?: unknown[]; error?: { message: string; code?: string } };

/** A transaction a client left open this long is rolled back and its connection closed. */
const IDLE_IN_TRANSACTION_MS = 30_000;

export function servePglite(pglite: PGlite, path: string): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveSession(pglite, socket);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      // The socket is the whole control plane: only the data folder's owner may connect.
      chmodSync(path, 0o600);
      resolve({
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** One client connection: its requests in order, at most one transaction open at a time. */
function serveSession(pglite: PGlite, socket: Socket): void {
  let open: { tx: Transaction; end(commit: boolean): Promise<void> } | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  let queue = Promise.resolve();

  const rollback = async () => {
    clearTimeout(idleTimer);
    const ending = open;
    open = undefined;
    await ending?.end(false).catch(() => undefined);
  };
  socket.on('close', () => void (queue = queue.then(rollback)));
  socket.on('error', () => socket.destroy());

  const handle = async (request: Request): Promise<Response> => {
    clearTimeout(idleTimer);
    try {
      switch (request.op) {
        case 'begin':
          if (open) throw new Error('a transaction is already open on this connection');
          open = await beginTransaction(pglite);
          return { id: request.id };
        case 'commit':
        case 'rollback': {
          const ending = open;
          open = undefined;
          if (!ending) throw new Error('no transaction is open on this connection');
          await ending.end(request.op === 'commit');
          return { id: request.id };
        }
        case 'exec':
          await (open ? open.tx.exec(request.sql) : pglite.exec(request.sql));
          return { id: request.id, rows: [] };
        case 'query':
          return { id: request.id, rows: (await (open ? open.tx : pglite).query(request.sql, request.params)).rows };
      }
    } catch (error) {
      const { message, code } = error as { message: string; code?: string };
      return { id: request.id, error: { message, ...(code ? { code } : {}) } };
    } finally {
      if (open) idleTimer = setTimeout(() => socket.destroy(), IDLE_IN_TRANSACTION_MS);
    }
  };

  readFrames(socket, (message) => {
    queue = queue.then(async () => {
      const response = await handle(message as Request);
      if (!socket.destroyed) socket.write(frame(response));
    });
  });
}

/** Opens `pglite.transaction` and keeps it open until `end` is called. */
function beginTransaction(pglite: PGlite): Promise<{ tx: Transaction; end(commit: boolean): Promise<void> }> {
  return new Promise((resolveBegin, rejectBegin) => {
    const ROLLBACK = Symbol('rollback');
    let finish!: (commit: boolean) => void;
    const done = pglite
      .transaction(
        (tx) =>
          new Promise<void>((resolve, reject) => {
            finish = (commit) => (commit ? resolve() : reject(ROLLBACK));
            resolveBegin({ tx, end });
          }),
      )
      .catch((error: unknown) => {
        if (error !== ROLLBACK) throw error;
      });
    const end = async (commit: boolean) => {
      finish(commit);
      await done;
    };
    done.catch(rejectBegin);
  });
}

/** The control plane of another process, reached on its socket: the `Db` the store expects. */
export function pgliteSocketDb(path: string): Db {
  const shared = connectSession(path);
  return {
    kind: 'pglite',
    query: (sql, params) => shared.then((session) => session.query(sql, params)),
    exec: async (sql) => {
      await (await shared).send({ op: 'exec', sql });
    },
    async transaction(fn) {
      // Each transaction has a connection of its own, so the shared one never waits behind it.
      const session = await connectSession(path);
      try {
        await session.send({ op: 'begin' });
        try {
          const result = await fn(session);
          await session.send({ op: 'commit' });
          return result;
        } catch (error) {
          await session.send({ op: 'rollback' }).catch(() => undefined);
          throw error;
        }
      } finally {
        session.close();
      }
    },
    // Processes reaching the control plane through the socket execute no runs, so they have
    // nothing to wake: the owner's workers hear its own PGlite's notifications.
    listen: async () => async () => undefined,
    close: async () => {
      (await shared.catch(() => undefined))?.close();
    },
  };
}

interface Session extends Queryable {
  send(request: Outgoing): Promise<unknown[]>;
  close(): void;
}

function connectSession(path: string): Promise<Session> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const pending = new Map<number, { resolve(rows: unknown[]): void; reject(error: Error): void }>();
    let nextId = 1;
    const failAll = (error: Error) => {
      for (const waiter of pending.values()) waiter.reject(error);
      pending.clear();
    };
    socket.once('error', reject);
    socket.on('close', () => failAll(new Error('the control plane connection closed (the server owning the data folder stopped?)')));
    readFrames(socket, (message) => {
      const response = message as Response;
      const waiter = pending.get(response.id);
      pending.delete(response.id);
      if (!waiter) return;
      if (response.error) waiter.reject(Object.assign(new Error(response.error.message), response.error.code ? { code: response.error.code } : {}));
      else waiter.resolve(response.rows ?? []);
    });
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', (error) => failAll(error));
      const send: Session['send'] = (request) =>
        new Promise((resolveRows, rejectRows) => {
          const id = nextId++;
          pending.set(id, { resolve: resolveRows, reject: rejectRows });
          socket.write(frame({ ...request, id }));
        });
      resolve({
        send,
        query: async <T>(sql: string, params?: unknown[]) => (await send({ op: 'query', sql, ...(params ? { params } : {}) })) as T[],
        close: () => socket.end(),
      });
    });
  });
}

function frame(message: unknown): Buffer {
  const body = serialize(message);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

function readFrames(socket: Socket, onMessage: (message: unknown) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const length = buffered.readUInt32BE(0);
      if (buffered.length < 4 + length) break;
      const body = buffered.subarray(4, 4 + length);
      buffered = buffered.subarray(4 + length);
      let message: unknown;
      try {
        message = deserialize(body);
      } catch {
        socket.destroy();
        return;
      }
      onMessage(message);
    }
  });
}
