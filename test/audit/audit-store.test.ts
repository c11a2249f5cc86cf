import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { auditStore, type AuditRow } from '../../src/store/audit.ts';
import { maintenanceStore } from '../../src/store/maintenance.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';

/** The audit store itself: a cursor that survives equal timestamps, what it refuses to keep, retention. */
for (const factory of controlPlaneFactories()) {
  describe(`audit store on ${factory.name}`, () => {
    let cp: ControlPlane;
    before(async () => {
      cp = await factory.open();
    });
    after(async () => cp?.close());

    test('entries with one timestamp page by id, every one once; filters apply with the cursor', async () => {
      const audit = auditStore(cp.db);
      for (let i = 0; i < 7; i++) await audit.record({ org_slug: 'tie_org', actor: 'root', via: 'api', action: i % 2 ? 'key.create' : 'key.revoke', target_id: `k${i}`, outcome: 'success' });
      await cp.db.query("UPDATE audit_log SET created_at = '2026-03-01T00:00:00.123Z' WHERE org_slug = 'tie_org'");
      const seen: AuditRow[] = [];
      let before: AuditRow | undefined;
      do {
        const page = await audit.list('tie_org', { limit: 2, before });
        seen.push(...page);
        before = page.length === 2 ? page.at(-1) : undefined;
      } while (before);
      assert.deepEqual(seen.map((row) => row.target_id), ['k6', 'k5', 'k4', 'k3', 'k2', 'k1', 'k0']);
      assert.equal(seen[0]?.created_at.toISOString(), '2026-03-01T00:00:00.123Z');
      const revokes = await audit.list('tie_org', { action: 'key.revoke', limit: 10, before: seen[1] });
      assert.deepEqual(revokes.map((row) => row.target_id), ['k4', 'k2', 'k0']);
      assert.deepEqual(await audit.list('other_org', { limit: 10 }), [], 'another org sees none of it');
    });

    test('an org or target that is not a plain identifier is kept as null; settle keeps what the start knew', async () => {
      const audit = auditStore(cp.db);
      const id = await audit.record({ org_slug: "x'; DROP TABLE audit_log; --", actor: 'anonymous', via: 'api', action: 'org.create', target_id: '../../etc/passwd?', outcome: 'pending', details: { plan: 'TRIAL' } });
      await audit.settle(id, { outcome: 'failure', status: 400, error_code: 'invalid_input', org_slug: 'late_org', target_id: 'late', details: { extra: 1 } });
      const [row] = await cp.db.query<AuditRow>('SELECT * FROM audit_log WHERE id = $1', [id]);
      assert.deepEqual([row?.org_slug, row?.target_id, row?.outcome, row?.status, row?.details], ['late_org', 'late', 'failure', 400, { plan: 'TRIAL', extra: 1 }]);
      await audit.settle(id, { outcome: 'success' });
      const [again] = await cp.db.query<AuditRow>('SELECT outcome FROM audit_log WHERE id = $1', [id]);
      assert.equal(again?.outcome, 'failure', 'a settled entry is never settled again');
    });

    test('the sweep deletes entries past AUDIT_RETENTION_DAYS, and none with 0', async () => {
      const audit = auditStore(cp.db);
      await audit.record({ org_slug: 'old_org', actor: 'root', via: 'api', action: 'key.create', target_id: 'old', outcome: 'success' });
      await audit.record({ org_slug: 'old_org', actor: 'root', via: 'api', action: 'key.create', target_id: 'new', outcome: 'success' });
      await cp.db.query("UPDATE audit_log SET created_at = now() - interval '40 days' WHERE org_slug = 'old_org' AND target_id = 'old'");
      const maintenance = maintenanceStore(cp.db);
      assert.equal((await maintenance.prune({ logDays: 30, qualityDays: 30, auditDays: 0 })).audit, 0);
      assert.equal((await audit.list('old_org', { limit: 10 })).length, 2);
      assert.ok((await maintenance.prune({ logDays: 30, qualityDays: 30, auditDays: 30 })).audit >= 1);
      assert.ok((await audit.list(undefined, { limit: 100 })).every((row) => Date.now() - row.created_at.getTime() < 30 * 86_400_000), 'nothing older than 30 days is left');
      assert.deepEqual((await audit.list('old_org', { limit: 10 })).map((row) => row.target_id), ['new']);
    });
  });
}
