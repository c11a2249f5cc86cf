import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { exportOrgTable } from '../../focus/export-focus.ts';
import type { App } from '../../main/app.ts';
import { UnavailableError } from '../../shared/errors.ts';
import { orgAuth } from '../auth.ts';
import { fileResponse, SECURITY } from '../openapi-responses.ts';
import { OrgParams, withErrors } from '../schemas.ts';

const ExportQuery = Type.Object({
  from: Type.Optional(Type.String({ format: 'date', maxLength: 10, description: 'first charge day, YYYY-MM-DD' })),
  to: Type.Optional(Type.String({ format: 'date', maxLength: 10, description: 'last charge day, YYYY-MM-DD' })),
  run_id: Type.Optional(Type.String({ format: 'uuid', maxLength: 36 })),
  table: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_]*$', maxLength: 100 })),
  format: Type.Union([Type.Literal('csv'), Type.Literal('parquet')], { default: 'csv' }),
});

/** FOCUS export: the org's rows of a period as a CSV or Parquet file (the key only ever sees its own org). */
export function focusRoutes(server: FastifyInstance, app: App): void {
  server.get<{ Params: Static<typeof OrgParams>; Querystring: Static<typeof ExportQuery> }>('/api/v1/focus/export/:org', {
    schema: {
      tags: ['focus'],
      security: SECURITY.orgKey,
      summary: 'Export FOCUS rows as CSV or Parquet',
      description: 'The org’s rows of cost_data_standard_1_3 (or another of its output tables) by charge day, or those one run wrote. 404 when the table has no rows for the org yet.',
      params: OrgParams,
      querystring: ExportQuery,
      response: withErrors({ 200: fileResponse('The rows, as a download', ['text/csv', 'application/vnd.apache.parquet'], { 'content-disposition': 'attachment; filename="{org}_{table}[_{from}][_{to}].{format}"', 'x-row-count': 'rows in the file' }) }, 400, 401, 403, 404, 503),
    },
    preValidation: orgAuth(app.orgs),
  }, async (request, reply) => {
    if (!app.warehouse) throw new UnavailableError('This process has no warehouse: export from a process that executes runs');
    const dir = await mkdtemp(join(tmpdir(), 'focus-export-'));
    const path = join(dir, `export.${request.query.format}`);
    try {
      const { query } = request;
      const { rows } = await exportOrgTable(app.warehouse, { orgSlug: request.params.org, env: app.settings.env, table: query.table, from: query.from, to: query.to, runId: query.run_id, format: query.format, path });
      const stream = createReadStream(path);
      stream.on('close', () => void rm(dir, { recursive: true, force: true }));
      const name = `${request.params.org}_${query.table ?? 'cost_data_standard_1_3'}${query.from ? `_${query.from}` : ''}${query.to ? `_${query.to}` : ''}.${query.format}`;
      return reply
        .header('content-type', query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/vnd.apache.parquet')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('x-row-count', String(rows))
        .send(stream);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  });
}
