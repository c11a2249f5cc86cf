import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { App } from '../../main/app.ts';
import type { PipelineConfig } from '../../pipelines/config-schema.ts';
import { PipelineInfo, withErrors } from '../schemas.ts';

const ProviderParams = Type.Object({ provider: Type.String({ pattern: '^[a-z][a-z0-9_]*$', maxLength: 100 }) });
const PipelineList = Type.Object({ pipelines: Type.Array(PipelineInfo) });

/** Pipeline discovery (no auth, as in the seeds): what can be run and with which parameters. */
export function validatorRoutes(server: FastifyInstance, app: App): void {
  const tags = ['discovery'];
  server.get('/api/v1/validator/pipelines', { schema: { tags, summary: 'All pipelines', description: 'Each with its route, parameters (types and bounds), schedule and steps.', response: withErrors({ 200: PipelineList }) } }, async () => ({ pipelines: app.pipelines.list().map(describe) }));
  server.get<{ Params: Static<typeof ProviderParams> }>('/api/v1/validator/pipelines/:provider', {
    schema: { tags, summary: 'Pipelines of one provider (the first route segment)', params: ProviderParams, response: withErrors({ 200: PipelineList }, 400) },
  }, async (request) => ({ pipelines: app.pipelines.list(request.params.provider).map(describe) }));
}

function describe(pipeline: PipelineConfig) {
  return {
    route: pipeline.route,
    pipeline_id: pipeline.pipeline_id,
    name: pipeline.name,
    description: pipeline.description,
    provider: pipeline.provider,
    domain: pipeline.domain,
    version: pipeline.version,
    schedule: pipeline.schedule ?? null,
    parameters: pipeline.parameters ?? {},
    steps: pipeline.steps.map((step) => ({ step_id: step.step_id, ps_type: step.ps_type, depends_on: step.depends_on ?? [] })),
  };
}
