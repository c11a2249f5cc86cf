import type { AuditStore } from '../store/audit.ts';
import type { ProcedureChange } from './procedure-service.ts';

/** A procedure change as an audit entry: the service's own (no org), the procedure as target, hashes as details. */
export function auditProcedureChanges(audit: Pick<AuditStore, 'record'>): (change: ProcedureChange) => Promise<void> {
  return async (change) => {
    await audit.record({
      org_slug: null,
      actor: change.by.actor,
      via: change.by.via,
      action: change.action,
      target_id: change.name,
      request_id: change.by.requestId ?? null,
      outcome: 'success',
      details: { dialect: change.dialect, content_hash: change.content_hash, previous_hash: change.previous_hash, source_file: change.source_file },
    });
  };
}
