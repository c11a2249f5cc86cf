import { Type, type Static } from '@sinclair/typebox';

/** The YAML fields of the seeds (FR-PIP-003 / FR-PIP-004), with the run parameters a pipeline accepts. */
const Identifier = Type.String({ pattern: '^[a-z][a-z0-9_]*$', description: 'lowercase letters, digits and underscores' });

export const ParameterSchema = Type.Object(
  {
    type: Type.Union([Type.Literal('string'), Type.Literal('integer'), Type.Literal('number'), Type.Literal('boolean'), Type.Literal('date'), Type.Literal('source_uri')], {
      description: "source_uri: a path relative to the org's source folder, or a gs://, s3://, bq:// URI (src/sources/)",
    }),
    description: Type.Optional(Type.String()),
    required: Type.Optional(Type.Boolean()),
    default: Type.Optional(Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
    enum: Type.Optional(Type.Array(Type.Union([Type.String(), Type.Number()]), { minItems: 1 })),
    pattern: Type.Optional(Type.String()),
    /** Bounds of an integer or number parameter, inclusive; a run outside them is refused at admission. */
    minimum: Type.Optional(Type.Number()),
    maximum: Type.Optional(Type.Number()),
    /** Longest string value (at most 1000, the default). */
    maxLength: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

export const StepSchema = Type.Object(
  {
    step_id: Identifier,
    name: Type.Optional(Type.String()),
    ps_type: Type.String({ pattern: '^[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*$', description: 'processor type such as generic.procedure_executor' }),
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    depends_on: Type.Optional(Type.Array(Identifier, { uniqueItems: true })),
    timeout_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
    retry: Type.Optional(
      Type.Object(
        {
          max_attempts: Type.Integer({ minimum: 1, maximum: 20 }),
          backoff_seconds: Type.Optional(Type.Number({ minimum: 0, maximum: 3600 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** A pipeline's default schedule: each org that can run the pipeline gets one (src/scheduler/). */
export const ScheduleSchema = Type.Object(
  {
    cron: Type.String({ description: 'cron expression, 5 fields (minute hour day-of-month month day-of-week), read in timezone' }),
    timezone: Type.Optional(Type.String({ description: 'IANA time zone of the cron fields and of the template\'s today (default UTC)' })),
    parameters: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
        description: 'the run body of each tick; strings may hold {{ expression }} dates such as {{ today - 3 days }} (src/scheduler/schedule-template.ts)',
      }),
    ),
    missed: Type.Optional(Type.Union([Type.Literal('skip'), Type.Literal('once'), Type.Literal('all')], { description: 'ticks missed while no scheduler ran: skip (default, only the latest), once, or all up to max_catchup' })),
    max_catchup: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'most missed ticks run under missed: all (default 10)' })),
  },
  { additionalProperties: false },
);

export const PipelineFileSchema = Type.Object(
  {
    pipeline_id: Identifier,
    name: Type.String({ minLength: 1 }),
    description: Type.String(),
    provider: Identifier,
    domain: Identifier,
    version: Type.String({ minLength: 1 }),
    schedule: Type.Optional(Type.Union([Type.String({ description: 'cron expression (UTC)' }), ScheduleSchema])),
    parameters: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), ParameterSchema)),
    steps: Type.Array(StepSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export type ParameterSpec = Static<typeof ParameterSchema>;
export type StepConfig = Static<typeof StepSchema>;
export type PipelineFile = Static<typeof PipelineFileSchema>;

/** A loaded, validated pipeline, answering one route. */
export interface PipelineConfig extends PipelineFile {
  /** `{provider}/{domain}/{pipeline}` from the file's last three path segments. */
  route: string;
  file: string;
}
