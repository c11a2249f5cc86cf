/**
 * Issue 10, item 7: the log download joined up to a million rows into one string. It now streams
 * the run's lines page by page (1000 log lines a query) with the same content.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { assertOk, call, closeServed, serveOrgWithRun, type CreatedOrg } from './api-helpers.ts';

const EXTRA_LINES = 2500;

for (const factory of controlPlaneFactories()) {
  describe(`log download (${factory.name})`, () => {
    let controlPlane: ControlPlane;
    let app: App;
    let server: FastifyInstance;
    let org: CreatedOrg;
    let runId: string;

    before(async () => {
      ({ controlPlane, app, server, org, runId } = await serveOrgWithRun(factory, 'download_org'));
      // A long log: three pages and a half past the run's own lines.
      await controlPlane.db.query(
        `INSERT INTO run_logs (org_slug, run_id, at, level, step_id, message, fields)
         SELECT $1, $2, now(), 'info', NULL, 'line ' || i, jsonb_build_object('i', i) FROM generate_series(1, $3::int) AS i`,
        [org.org_slug, runId, EXTRA_LINES],
      );
    });

    after(() => closeServed({ server, app, controlPlane }));

    test('every line of the run, in order, streamed (no Content-Length: never one string)', async () => {
      const response = await call(server, { method: 'GET', url: `/api/v1/pipelines/logs/${org.org_slug}/${runId}/download`, headers: { 'x-api-key': org.api_key } });
      assertOk(response, 200);
      assert.equal(response.headers['content-length'], undefined, 'a streamed body has no length up front');
      assert.match(String(response.headers['content-type']), /^application\/x-ndjson/);
      assert.ok(response.body.endsWith('\n'));
      const lines = response.body.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

      const run = (await app.runs.get(org.org_slug, runId))!;
      const logs = await app.runs.logs(org.org_slug, runId, { limit: 100_000 });
      assert.ok(logs.length > EXTRA_LINES);
      const expected = [
        { type: 'run', ...run },
        ...(await app.runs.transitions(org.org_slug, runId)).map((t) => ({ type: 'transition', ...t })),
        ...(await app.runs.steps(org.org_slug, runId)).map((s) => ({ type: 'step', ...s })),
        ...logs.map((l) => ({ type: 'log', ...l })),
        ...(await app.runs.quality(org.org_slug, runId)).map((q) => ({ type: 'quality', ...q })),
      ].map((line) => JSON.parse(JSON.stringify(line)) as Record<string, unknown>);
      assert.equal(lines.length, expected.length);
      assert.deepEqual(lines, expected);
    });
  });
}
