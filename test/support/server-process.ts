import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO, ROOT_KEY, UNTHROTTLED } from './test-app.ts';
import { seededDataDir } from './pglite-template.ts';

export const BIN = join(REPO, 'bin', 'pipeline.ts');

/** `pipeline …` in a process of its own, as a person runs it. */
export function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...process.env, DATABASE_URL: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface ServerProcess {
  base: string;
  env: Record<string, string>;
  /** The demo org's key, printed once by a development server's first start. */
  demoKey: string;
  child: ChildProcess;
  stop(): Promise<number | null>;
}

/** `pipeline serve` (what `npm start` runs) on a free port of a new data folder (control plane already migrated: seededDataDir). */
export async function startServer(extraEnv: Record<string, string> = {}): Promise<ServerProcess> {
  const port = String(20000 + Math.floor(Math.random() * 20000));
  const env = { PIPELINE_DATA_DIR: await seededDataDir('served-'), PORT: port, HOST: '127.0.0.1', LOG_LEVEL: 'warn', CA_ROOT_API_KEY: ROOT_KEY, DATABASE_URL: '', ...UNTHROTTLED, ...extraEnv };
  const child = spawn(process.execPath, [BIN, 'serve'], { cwd: REPO, env: { ...process.env, ...env } });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 60_000;
  while (!/export API_KEY=(\S+)/.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`server did not start: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    base: `http://127.0.0.1:${port}`,
    env,
    demoKey: /export API_KEY=(\S+)/.exec(output)?.[1] as string,
    child,
    stop: () => {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      child.kill('SIGTERM');
      return new Promise((resolve) => child.on('close', resolve));
    },
  };
}
