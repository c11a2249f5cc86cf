/**
 * ZetaSQL, the SQL front end BigQuery is built on, as a local service: the linux x86-64 binary
 * that @fivetrandevelopers/zetasql ships (lib/zetasql/remote_server.so, a gRPC server taking
 * `host port`), started once per test file (it takes about a second and 300 MB) and called through
 * the package's generated gRPC client. Analyze resolves a statement against a catalog; EvaluateQuery
 * runs a query over in-memory tables with ZetaSQL's reference implementation.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

interface ZetaSqlModule {
  ZetaSQLClient: {
    init(port: number): void;
    getInstance(): { testConnection(): Promise<boolean> };
    API: Record<string, (request: unknown, callback: (error: GrpcError | null, response: unknown) => void) => void>;
  };
}
interface GrpcError extends Error {
  details?: string;
}

/** The package's binary for this machine, or why there is none. */
export function zetasqlBinary(): { path: string } | { skip: string } {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { skip: `ZetaSQL's local service ships for linux x86-64 only (this is ${process.platform} ${process.arch})` };
  let root: string;
  try {
    root = dirname(require.resolve('@fivetrandevelopers/zetasql'));
  } catch {
    return { skip: '@fivetrandevelopers/zetasql is not installed' };
  }
  const path = join(root, 'zetasql', 'remote_server.so');
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return { skip: `${path} is missing or not executable` };
  }
  return { path };
}

export interface ZetaSql {
  /** Calls one RPC of ZetaSqlLocalService (camelCase fields, as @grpc/proto-loader maps them). */
  call<T = Record<string, unknown>>(method: string, request: Record<string, unknown>): Promise<T>;
  close(): void;
}

/** Starts the service on a free loopback port; rejects (with the server's output) if it does not answer. */
export async function startZetaSql(binary: string): Promise<ZetaSql> {
  const port = await freePort();
  const child: ChildProcess = spawn(binary, ['localhost', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => void (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => void (output += chunk.toString()));
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`ZetaSQL service did not start: ${error.message}`)));
    child.once('exit', (code, signal) => reject(new Error(`ZetaSQL service exited (${code ?? signal}): ${output.trim()}`)));
  });
  exited.catch(() => undefined);
  // A resolved AST nests a node per scan and expression: a 200-line conversion is deeper than
  // protobufjs's default decoding limit of 100 levels ("maximum nesting depth exceeded").
  const protobuf = createRequire(require.resolve('@fivetrandevelopers/zetasql/package.json'))('protobufjs') as { util: { recursionLimit: number }; Reader: { recursionLimit: number } };
  protobuf.util.recursionLimit = protobuf.Reader.recursionLimit = 100_000;
  const zetasql = require('@fivetrandevelopers/zetasql') as ZetaSqlModule;
  zetasql.ZetaSQLClient.init(port);
  const connected = await Promise.race([zetasql.ZetaSQLClient.getInstance().testConnection(), exited]);
  if (!connected) {
    child.kill('SIGKILL');
    throw new Error(`ZetaSQL service on port ${port} did not answer: ${output.trim()}`);
  }
  const api = zetasql.ZetaSQLClient.API;
  return {
    call: <T>(method: string, request: Record<string, unknown>) =>
      new Promise<T>((resolve, reject) => {
        const fn = api[method];
        if (!fn) return reject(new Error(`ZetaSqlLocalService has no method ${method}`));
        fn.call(api, request, (error, response) => (error ? reject(new Error(error.details || error.message)) : resolve(response as T)));
      }),
    close: () => void child.kill('SIGKILL'),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
