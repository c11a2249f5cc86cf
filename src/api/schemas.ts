import { Type, type TSchema } from '@sinclair/typebox';

/** Request and response schemas, declared once: Fastify validates and serialises with them and they form the OpenAPI document. */
const DateTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const RunStatus = Type.Union(['pending', 'validating', 'running', 'completed', 'failed', 'cancelled'].map((s) => Type.Literal(s)));
const Slug = Type.String({ pattern: '^[a-z][a-z0-9_]{1,48}[a-z0-9]$', description: 'organization slug' });
const Segment = Type.String({ pattern: '^[a-z][a-z0-9_]*$', maxLength: 100 });
const Uuid = Type.String({ format: 'uuid' });

export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), field: Type.Optional(Type.String()), limit: Type.Optional(Type.String()), retry_after_seconds: Type.Optional(Type.Number()) }),
  request_id: Type.String(),
});

export const OrgParams = Type.Object({ org: Slug });
export const OrgRunParams = Type.Object({ org: Slug, run_id: Uuid });
export const RunIdParams = Type.Object({ run_id: Uuid });
export const RouteParams = Type.Object({ org: Slug, provider: Segment, domain: Segment, pipeline: Segment });

export const RunBody = Type.Object(
  {
    date: Type.Optional(Type.String({ description: 'YYYY-MM-DD: a one-day run' })),
    start_date: Type.Optional(Type.String({ description: 'YYYY-MM-DD' })),
    end_date: Type.Optional(Type.String({ description: 'YYYY-MM-DD' })),
  },
  // Declared parameters are typed by the pipeline, and checked there: a schema type here would
  // let the validator coerce 5 into "5" before the pipeline sees it.
  { additionalProperties: Type.Unknown(), description: 'dates and the pipeline’s declared parameters' },
);

export const RunAccepted = Type.Object({ run_id: Type.String(), pipeline_logging_id: Type.String(), status: Type.Literal('pending') });

export const Run = Type.Object({
  run_id: Type.String(),
  pipeline_logging_id: Type.String(),
  org_slug: Type.String(),
  pipeline_id: Type.String(),
  provider: Type.String(),
  domain: Type.String(),
  pipeline: Type.String(),
  status: RunStatus,
  parameters: Type.Record(Type.String(), Type.Unknown()),
  trigger: Type.String(),
  created_by: Type.String(),
  created_at: DateTime,
  started_at: DateTime,
  ended_at: DateTime,
  duration_ms: Type.Union([Type.Integer(), Type.Null()]),
  records_processed: Type.Integer(),
  error_message: Type.Union([Type.String(), Type.Null()]),
  cancel_requested: Type.Boolean(),
});

export const Step = Type.Object({
  step_id: Type.String(),
  ps_type: Type.String(),
  position: Type.Integer(),
  status: Type.String(),
  attempts: Type.Integer(),
  started_at: DateTime,
  ended_at: DateTime,
  duration_ms: Type.Union([Type.Integer(), Type.Null()]),
  records_processed: Type.Integer(),
  error_message: Type.Union([Type.String(), Type.Null()]),
  result: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});

export const Transition = Type.Object({ from_status: Type.Union([RunStatus, Type.Null()]), to_status: RunStatus, at: DateTime, reason: Type.String() });

export const LogLine = Type.Object({
  id: Type.Integer(),
  at: DateTime,
  level: Type.String(),
  step_id: Type.Union([Type.String(), Type.Null()]),
  message: Type.String(),
  fields: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});

export const QualitySummary = Type.Object({ pass: Type.Integer(), fail: Type.Integer(), skipped: Type.Integer(), warn: Type.Integer() });

export const QualityResultSchema = Type.Object({
  step_id: Type.String(),
  check_kind: Type.String(),
  rule_id: Type.String(),
  level: Type.String(),
  status: Type.String(),
  description: Type.String(),
  failing_rows: Type.Integer(),
  details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});

export const RunList = Type.Object({ runs: Type.Array(Run), next_cursor: Type.Union([Type.String(), Type.Null()]) });

export const RunsQuery = Type.Object({
  provider: Type.Optional(Segment),
  domain: Type.Optional(Segment),
  pipeline: Type.Optional(Segment),
  status: Type.Optional(RunStatus),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});

export const PipelineInfo = Type.Object({
  route: Type.String(),
  pipeline_id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  provider: Type.String(),
  domain: Type.String(),
  version: Type.String(),
  schedule: Type.Union([Type.String(), Type.Null()]),
  parameters: Type.Record(Type.String(), Type.Unknown()),
  steps: Type.Array(Type.Object({ step_id: Type.String(), ps_type: Type.String(), depends_on: Type.Array(Type.String()) })),
});

export const CreateOrgBody = Type.Object(
  { org_slug: Slug, name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), plan: Type.Optional(Type.String({ pattern: '^[A-Z_]+$' })) },
  { additionalProperties: false },
);

export const Subscription = Type.Object({
  plan: Type.String(),
  status: Type.String(),
  daily_limit: Type.Integer(),
  monthly_limit: Type.Integer(),
  concurrent_limit: Type.Integer(),
  runs_today: Type.Integer(),
  runs_this_month: Type.Integer(),
  running_count: Type.Integer(),
});

export const SubscriptionPatch = Type.Object(
  {
    plan: Type.Optional(Type.String({ pattern: '^[A-Z_]+$' })),
    status: Type.Optional(Type.Union(['ACTIVE', 'TRIAL', 'PAST_DUE', 'SUSPENDED', 'CANCELLED'].map((s) => Type.Literal(s)))),
    daily_limit: Type.Optional(Type.Integer({ minimum: 0 })),
    monthly_limit: Type.Optional(Type.Integer({ minimum: 0 })),
    concurrent_limit: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const CreatedKey = Type.Object({ org_slug: Type.String(), key_id: Type.String(), api_key: Type.String(), key_prefix: Type.String() });

/** The standard error responses of an endpoint, for its OpenAPI entry. */
export function withErrors(ok: Record<number, TSchema>, ...statuses: number[]): Record<number, TSchema> {
  return { ...ok, ...Object.fromEntries(statuses.map((status) => [status, ErrorBody])) };
}
