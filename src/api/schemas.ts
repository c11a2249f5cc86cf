import { Type } from '@sinclair/typebox';
import { ScheduleSchema } from '../pipelines/config-schema.ts';

/** Request and response schemas, declared once: Fastify validates and serialises with them and they form the OpenAPI document. */
const DateTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const RunStatus = Type.Union(['pending', 'validating', 'running', 'completed', 'failed', 'cancelled'].map((s) => Type.Literal(s)));
/** As organizations.org_slug's CHECK in 001_control_plane.sql. */
export const Slug = Type.String({ pattern: '^[a-z][a-z0-9_]{1,48}[a-z0-9]$', minLength: 3, maxLength: 50, description: 'organization slug' });
export const Segment = Type.String({ pattern: '^[a-z][a-z0-9_]*$', maxLength: 100 });
const Uuid = Type.String({ format: 'uuid', maxLength: 36 });
const IsoDate = Type.String({ format: 'date', maxLength: 10, description: 'YYYY-MM-DD' });
/** The largest value of a PostgreSQL integer column (subscriptions' limits). */
export const INT4_MAX = 2_147_483_647;
/** Text a person names something with: no control characters (PostgreSQL text refuses NUL). */
export const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });

export const OrgParams = Type.Object({ org: Slug });
export const OrgRunParams = Type.Object({ org: Slug, run_id: Uuid });
export const RunIdParams = Type.Object({ run_id: Uuid });
export const RouteParams = Type.Object({ org: Slug, provider: Segment, domain: Segment, pipeline: Segment });

export const RunBody = Type.Object(
  {
    date: Type.Optional(Type.String({ format: 'date', maxLength: 10, description: 'YYYY-MM-DD: a one-day run' })),
    start_date: Type.Optional(IsoDate),
    end_date: Type.Optional(IsoDate),
  },
  // Declared parameters are typed by the pipeline, and checked there (run-parameters.ts).
  { additionalProperties: Type.Unknown(), maxProperties: 50, propertyNames: { pattern: '^[a-z][a-z0-9_]{0,63}$' }, description: 'dates and the pipeline’s declared parameters' },
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
  trigger: Type.Optional(Type.Union([Type.Literal('api'), Type.Literal('cli'), Type.Literal('schedule'), Type.Literal('backfill')])),
  from: Type.Optional(Type.String({ format: 'date', maxLength: 10, description: 'runs created on or after this day (UTC), YYYY-MM-DD' })),
  to: Type.Optional(Type.String({ format: 'date', maxLength: 10, description: 'runs created on or before this day (UTC), YYYY-MM-DD' })),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]+$', maxLength: 200 })),
});

export const PipelineInfo = Type.Object({
  route: Type.String(),
  pipeline_id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  provider: Type.String(),
  domain: Type.String(),
  version: Type.String(),
  schedule: Type.Union([Type.String(), ScheduleSchema, Type.Null()]),
  parameters: Type.Record(Type.String(), Type.Unknown()),
  steps: Type.Array(Type.Object({ step_id: Type.String(), ps_type: Type.String(), depends_on: Type.Array(Type.String()) })),
});

/** A plan of configs/system/plans.json. */
function PlanName(plans: readonly string[]) {
  return Type.Union(plans.map((plan) => Type.Literal(plan)), { description: 'a plan of configs/system/plans.json' });
}

export function CreateOrgBody(plans: readonly string[]) {
  return Type.Object({ org_slug: Slug, name: Type.Optional(Name), plan: Type.Optional(PlanName(plans)) }, { additionalProperties: false });
}

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

/** Limits are integer columns: a larger number was a database error and a 500. */
const Limit = Type.Integer({ minimum: 0, maximum: INT4_MAX });

export function SubscriptionPatch(plans: readonly string[]) {
  return Type.Object(
    {
      plan: Type.Optional(PlanName(plans)),
      status: Type.Optional(Type.Union(['ACTIVE', 'TRIAL', 'PAST_DUE', 'SUSPENDED', 'CANCELLED'].map((s) => Type.Literal(s)))),
      daily_limit: Type.Optional(Limit),
      monthly_limit: Type.Optional(Limit),
      concurrent_limit: Type.Optional(Limit),
    },
    { additionalProperties: false, minProperties: 1 },
  );
}

/** GET /health: 200 when every check is ok, 503 (degraded) otherwise. */
export const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  checks: Type.Record(Type.String(), Type.String(), { description: 'control_plane, and warehouse on a process that opens it: ok or unreachable' }),
  pipelines: Type.Integer({ description: 'pipelines loaded from the configs' }),
});

export const CreatedKey = Type.Object({ org_slug: Type.String(), key_id: Type.String(), api_key: Type.String(), key_prefix: Type.String() });

/** Error responses refer to the one shared error schema (openapi-responses.ts). */
export { withErrors } from './openapi-responses.ts';
