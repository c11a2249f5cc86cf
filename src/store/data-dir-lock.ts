import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';

/**
 * An exclusive claim on a folder by one process: a file holding the owner's pid, created with
 * O_EXCL. A file left by a process that no longer exists is stale and taken over.
 */
export function tryLockDir(dir: string, name: string): { acquired: true; release(): void } | { acquired: false; ownerPid: number } {
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/${name}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      const release = () => rmSync(file, { force: true });
      process.once('exit', release);
      return { acquired: true, release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const ownerPid = Number(readFileSync(file, 'utf8'));
      if (ownerPid && ownerPid !== process.pid && isAlive(ownerPid)) return { acquired: false, ownerPid };
      rmSync(file, { force: true });
    }
  }
  throw new Error(`could not lock ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
