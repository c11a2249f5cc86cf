import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ProcessorError } from '../shared/errors.ts';

/**
 * A run's scratch folder, `{dataDir}/scratch/{org}/{run}-{claim}/`: where its remote sources are
 * downloaded for DuckDB to read as local files. It lives as long as the run (the load step stages
 * views over the files that the later steps read) and is removed when the run ends, whatever its
 * end; the claim number keeps a worker that lost the run apart from the one that took it over.
 *
 * Bounded: every byte written is counted against `maxBytes` (SOURCE_SCRATCH_MAX_BYTES) and a
 * download that would pass it fails the step, naming the setting. Nothing a caller sends becomes a
 * path here: folder names come from step and dataset ids, file names from a counter.
 */
export interface RunScratch {
  readonly root: string;
  readonly maxBytes: number;
  /** A new empty folder (`name`'s earlier folder, a failed attempt's, removed and its bytes given back). */
  folder(name: string): Promise<ScratchFolder>;
  /** Removes everything; safe to call again. */
  remove(): Promise<void>;
}

export interface ScratchFolder {
  readonly path: string;
  /** Counts bytes about to be written; throws a non-retryable ProcessorError past the cap. */
  add(bytes: number, what: string): void;
}

export function runScratch(options: { dataDir: string; orgSlug: string; runId: string; claim: number; maxBytes: number }): RunScratch {
  for (const [field, value] of [['org', options.orgSlug], ['run', options.runId]] as const) {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(value)) throw new Error(`scratch: ${field} id ${JSON.stringify(value)} is not an id`);
  }
  const root = join(options.dataDir, 'scratch', options.orgSlug, `${options.runId}-${options.claim}`);
  const held = new Map<string, number>();
  let used = 0;
  let created = false;
  // The folders of this run's earlier claims on this host: a worker that died (or lost the run)
  // left them; the claim that runs now is the only one that may still need files.
  const removeEarlierClaims = async () => {
    const parent = join(options.dataDir, 'scratch', options.orgSlug);
    const earlier = (await readdir(parent).catch(() => [] as string[])).filter((name) => {
      const claim = new RegExp(`^${options.runId}-(\\d+)$`).exec(name)?.[1];
      return claim !== undefined && Number(claim) < options.claim;
    });
    await Promise.all(earlier.map((name) => rm(join(parent, name), { recursive: true, force: true })));
  };
  return {
    root,
    maxBytes: options.maxBytes,
    async folder(name) {
      if (!created) {
        await removeEarlierClaims();
        created = true;
      }
      const safe = name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100);
      const path = join(root, safe);
      await rm(path, { recursive: true, force: true });
      used -= held.get(safe) ?? 0;
      held.set(safe, 0);
      await mkdir(path, { recursive: true });
      return {
        path,
        add(bytes, what) {
          if (used + bytes > options.maxBytes) {
            throw new ProcessorError(`${what} would take the run's downloads past ${options.maxBytes} bytes, the limit SOURCE_SCRATCH_MAX_BYTES sets; narrow the source (a prefix or glob of fewer objects) or raise the limit`, { retryable: false });
          }
          used += bytes;
          held.set(safe, (held.get(safe) ?? 0) + bytes);
        },
      };
    },
    async remove() {
      // Most runs download nothing: no folder, no syscall (a run's end is on the engine's hot path).
      if (held.size === 0) return;
      await rm(root, { recursive: true, force: true });
      held.clear();
      used = 0;
    },
  };
}
