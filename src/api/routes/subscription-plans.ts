import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { App } from '../../main/app.ts';
import { InputError, UnavailableError } from '../../shared/errors.ts';
import { importPlans } from '../../subscription/plans-import.ts';
import { orgAuth } from '../auth.ts';
import { SECURITY } from '../openapi-responses.ts';
import { OrgParams, withErrors } from '../schemas.ts';

/**
 * The largest plans file the API takes. The import is linear and yields the event loop (see
 * plans-import.ts); 10 MB takes a few seconds on one core with /health answered within 100 ms.
 */
export const PLANS_BODY_LIMIT = 10 * 1_048_576;

/**
 * The org's SaaS plans, replaced from a CSV body: every row valid, or nothing imported (400 listing
 * each problem). Registered in a scope of its own, so no other route takes text/csv.
 */
export function subscriptionPlanRoutes(server: FastifyInstance, app: App): void {
  server.addContentTypeParser('text/csv', { parseAs: 'buffer', bodyLimit: PLANS_BODY_LIMIT }, (_request, body, done) => done(null, body));
  server.put<{ Params: Static<typeof OrgParams>; Body: Buffer }>('/api/v1/subscriptions/plans/:org', {
    schema: { tags: ['subscriptions'], security: SECURITY.orgKey, summary: 'Replace the org’s SaaS subscription plans from a CSV (text/csv)', description: 'Every row valid, or nothing imported: a 400 lists each problem as line N, column C: reason. Up to 10 MB; 503 on a process without the warehouse.', params: OrgParams, consumes: ['text/csv'], response: withErrors({ 200: Type.Object({ org_slug: Type.String(), rows: Type.Integer() }) }, 400, 401, 403, 413, 415, 503) },
    preValidation: orgAuth(app.orgs),
  }, async (request) => {
    if (!app.warehouse) throw new UnavailableError('This process has no warehouse: import plans on a process that executes runs');
    if (!Buffer.isBuffer(request.body)) throw new InputError('Send the plans file as the body, with Content-Type: text/csv', { field: 'body' });
    const rows = await importPlans(app.warehouse, { orgSlug: request.params.org, dataset: `${request.params.org}_${app.settings.env}`, csvText: request.body, importedAt: app.clock.now(), runId: randomUUID() });
    return { org_slug: request.params.org, rows };
  });
}
