import { resolveSqlTemplates, runVariables, sqlIdentifiers } from '../pipelines/templates.ts';
import type { Clock } from '../shared/clock.ts';
import { AppError, InputError, NotFoundError, UnprocessableError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import type { Dialect, ProcedureStore, RegisteredProcedure } from '../store/procedures.ts';
import type { ProcedureCatalog } from '../warehouse/warehouse.ts';
import { contentHash, procedureFiles, type ProcedureFile } from './procedure-files.ts';
import { procedureName } from './procedure-name.ts';

/** A registration as listed: everything but its text. */
export type ProcedureView = Omit<RegisteredProcedure, 'sql'>;

export type FileStatus = 'in_sync' | 'changed' | 'not_registered' | 'invalid';

export interface ProcedureFileView {
  name: string;
  domain: string;
  dialect: Dialect;
  path: string;
  content_hash: string;
  /** in_sync: registered with this text; changed: registered with other text (an older file, or one set through the API). */
  status: FileStatus;
  registered_hash: string | null;
  problem: string | null;
}

export interface SyncResult {
  dialect: Dialect;
  force: boolean;
  created: string[];
  updated: string[];
  unchanged: string[];
  failed: { name: string; path: string; reason: string }[];
}

export interface ProcedureDetail {
  name: string;
  dialect: Dialect;
  /** What a step naming this procedure runs now. */
  runs: 'registered' | 'file';
  sql: string;
  registered: ProcedureView | null;
  file: { path: string; content_hash: string; in_sync: boolean } | null;
}

/** Who asks for a change: `root` through the API (with its request id), `cli:<os user>` through the CLI. */
export interface ProcedureActor {
  actor: string;
  via: 'api' | 'cli';
  requestId?: string | undefined;
}

/** One change of a registration, for the audit log. */
export interface ProcedureChange {
  action: 'procedure.create' | 'procedure.replace' | 'procedure.delete';
  dialect: Dialect;
  name: string;
  content_hash: string;
  previous_hash: string | null;
  source_file: string | null;
  by: ProcedureActor;
}

export interface ProcedureServiceDeps {
  store: ProcedureStore;
  /** The warehouse's checks and registration, in `dialect`. */
  catalog: ProcedureCatalog;
  dialect: Dialect;
  configsDir: string;
  clock: Clock;
  logger: Logger;
  /**
   * Records each change (the audit log, docs/audit.md), after the change: a sync of fifteen
   * procedures is fifteen entries, beside the API's entry of the request that asked for it.
   */
  audit: (change: ProcedureChange) => Promise<void>;
}

export type ProcedureService = ReturnType<typeof procedureService>;

/**
 * Identifiers a procedure's templates resolve to while it is checked: a procedure belongs to
 * no org, and its templates may name only the service's identifiers (as at run time), so
 * sample values of the same shape stand in for them.
 */
const SAMPLE_VARIABLES = runVariables({ orgSlug: 'procedure_check', env: 'dev', projectId: 'local', runId: '00000000-0000-4000-8000-000000000000', pipelineId: 'procedure_check', credentialId: 'default', startDate: '2026-01-01', endDate: '2026-01-01', requestedOn: '2026-01-01', parameters: {} });
const SAMPLE_IDENTIFIERS = sqlIdentifiers(SAMPLE_VARIABLES);

/** The procedures of the seeds' procedures API (docs/procedures.md), in the warehouse's dialect. */
export function procedureService(deps: ProcedureServiceDeps) {
  const { store, catalog, dialect } = deps;

  /** The change is made by then and cannot be undone: a failed audit write is logged with the whole entry. */
  async function audited(change: ProcedureChange): Promise<void> {
    await deps.audit(change).catch((error: unknown) => deps.logger.error({ err: error, audit: change }, 'audit write failed: the procedure change stands, unrecorded'));
  }

  async function check(name: string, sql: string): Promise<void> {
    let resolved: string;
    try {
      resolved = resolveSqlTemplates(sql, SAMPLE_IDENTIFIERS, name);
    } catch (error) {
      if (error instanceof InputError) throw new UnprocessableError(error.message, { field: 'sql', cause: error });
      throw error;
    }
    await catalog.check(resolved, SAMPLE_VARIABLES);
  }

  /** Checks, registers in the warehouse, then records: a failed check registers nothing anywhere. */
  async function register(name: string, sql: string, sourceFile: string | null, by: ProcedureActor): Promise<{ procedure: ProcedureView; created: boolean }> {
    await check(name, sql);
    await catalog.register(name, sql);
    const hash = contentHash(sql);
    const { procedure, previousHash } = await store.upsert({ dialect, name, sql, content_hash: hash, source_file: sourceFile, synced_at: deps.clock.now() });
    await audited({ action: previousHash === undefined ? 'procedure.create' : 'procedure.replace', dialect, name, content_hash: hash, previous_hash: previousHash ?? null, source_file: sourceFile, by });
    deps.logger.info({ procedure: name, dialect, content_hash: hash, source_file: sourceFile, actor: by.actor }, previousHash === undefined ? 'procedure registered' : 'procedure replaced');
    return { procedure: view(procedure), created: previousHash === undefined };
  }

  async function fileViews(): Promise<{ file: ProcedureFile; view: ProcedureFileView; registered: RegisteredProcedure | undefined }[]> {
    const [files, registered] = await Promise.all([procedureFiles(deps.configsDir, dialect), store.list(dialect)]);
    const byName = new Map(registered.map((procedure) => [procedure.name, procedure]));
    return files.map((file) => {
      const found = file.problem ? undefined : byName.get(file.name);
      const status: FileStatus = file.problem ? 'invalid' : !found ? 'not_registered' : found.content_hash === file.content_hash ? 'in_sync' : 'changed';
      return {
        file,
        registered: found,
        view: { name: file.name, domain: file.domain, dialect, path: file.path, content_hash: file.content_hash, status, registered_hash: found?.content_hash ?? null, problem: file.problem ?? null },
      };
    });
  }

  return {
    dialect,

    async list(): Promise<ProcedureView[]> {
      return (await store.list(dialect)).map(view);
    },

    async files(): Promise<ProcedureFileView[]> {
      return (await fileViews()).map((entry) => entry.view);
    },

    /**
     * Registers the files whose text differs from their registration (all of them with `force`),
     * one at a time; a file that fails is reported and the others go on. Registrations without a
     * file (made through the API) are left as they are.
     */
    async sync(options: { force: boolean }, by: ProcedureActor): Promise<SyncResult> {
      const result: SyncResult = { dialect, force: options.force, created: [], updated: [], unchanged: [], failed: [] };
      for (const { file, registered } of await fileViews()) {
        if (file.problem) {
          result.failed.push({ name: file.name, path: file.path, reason: file.problem });
          continue;
        }
        if (!options.force && registered?.content_hash === file.content_hash && registered.source_file === file.path) {
          result.unchanged.push(file.name);
          continue;
        }
        try {
          const { created } = await register(file.name, file.sql, file.path, by);
          (created ? result.created : result.updated).push(file.name);
        } catch (error) {
          if (!(error instanceof AppError)) deps.logger.error({ err: error, procedure: file.name }, 'procedure sync failed');
          result.failed.push({ name: file.name, path: file.path, reason: error instanceof AppError ? error.message : 'the warehouse could not register it (the server log has the details)' });
        }
      }
      deps.logger.info({ dialect, force: options.force, created: result.created.length, updated: result.updated.length, unchanged: result.unchanged.length, failed: result.failed.length }, 'procedures synced');
      return result;
    },

    async show(name: string): Promise<ProcedureDetail> {
      procedureName(name);
      const entry = (await fileViews()).find((candidate) => candidate.file.name === name && !candidate.file.problem);
      const registered = entry?.registered ?? (await store.get(dialect, name));
      const file = entry ? { path: entry.file.path, content_hash: entry.file.content_hash, in_sync: registered?.content_hash === entry.file.content_hash } : null;
      if (registered) return { name, dialect, runs: 'registered', sql: registered.sql, registered: view(registered), file };
      if (entry) return { name, dialect, runs: 'file', sql: entry.file.sql, registered: null, file };
      throw new NotFoundError(`procedure ${name} is neither registered nor a ${dialect} file under configs/system/procedures`);
    },

    /** Creates or replaces a procedure from SQL given by the operator (a fix ahead of a deploy). */
    async put(name: string, body: { sql: string; dialect?: Dialect | undefined }, by: ProcedureActor): Promise<{ procedure: ProcedureView; created: boolean }> {
      procedureName(name);
      if (body.dialect !== undefined && body.dialect !== dialect) {
        throw new InputError(`this service's warehouse runs ${dialect} procedures; a ${body.dialect} procedure is registered on a ${body.dialect} warehouse`, { field: 'dialect' });
      }
      return register(name, body.sql, null, by);
    },

    /** Removes a registration: a step naming the procedure runs its file again, if it has one. */
    async remove(name: string, by: ProcedureActor): Promise<{ name: string; dialect: Dialect; deleted: true; runs: 'file' | 'nothing' }> {
      procedureName(name);
      const registered = await store.get(dialect, name);
      const files = await procedureFiles(deps.configsDir, dialect);
      const hasFile = files.some((file) => file.name === name && !file.problem);
      if (!registered) throw new NotFoundError(`procedure ${name} is not registered in the ${dialect} warehouse${hasFile ? ' (its file runs; there is no registration to delete)' : ''}`);
      await catalog.drop(name);
      const removed = await store.delete(dialect, name);
      if (removed) {
        await audited({ action: 'procedure.delete', dialect, name, content_hash: removed.content_hash, previous_hash: removed.content_hash, source_file: removed.source_file, by });
        deps.logger.info({ procedure: name, dialect, actor: by.actor }, 'procedure deleted');
      }
      return { name, dialect, deleted: true, runs: hasFile ? 'file' : 'nothing' };
    },
  };
}

function view(procedure: RegisteredProcedure): ProcedureView {
  const { sql: _sql, ...rest } = procedure;
  return rest;
}
