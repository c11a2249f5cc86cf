import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { RULE_KINDS, ruleBody } from '../../alerts/rule-spec.ts';
import type { App } from '../../main/app.ts';
import type { AlertView } from '../../store/cost-alerts.ts';
import { orgAuth } from '../auth.ts';
import { SECURITY } from '../openapi-responses.ts';
import { OrgParams, Slug, withErrors } from '../schemas.ts';

const RuleParams = Type.Object({ org: Slug, rule_id: Type.String({ format: 'uuid', maxLength: 36 }) });
const AlertsQuery = Type.Object({
  status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved')])),
  rule_id: Type.Optional(Type.String({ format: 'uuid', maxLength: 36 })),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
});
const DateTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Nullable = (schema: ReturnType<typeof Type.String>) => Type.Union([schema, Type.Null()]);

/**
 * A rule body: the common fields, then the kind's own (checked by src/alerts/rule-spec.ts, whose
 * 400s name the field). Declared open here so the check, not the schema, words the errors.
 */
const RuleInput = Type.Object(
  {
    name: Type.Optional(Type.String({ description: 'unique within the org' })),
    kind: Type.Optional(Type.String({ description: RULE_KINDS.join(', ') })),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    currency: Type.Optional(Type.String({ description: 'the billing currency of the amounts; rows billed in another are not counted (USD by default)' })),
    cost_column: Type.Optional(Type.String({ description: 'EffectiveCost (the default) or BilledCost' })),
    scope: Type.Optional(Type.Object({}, { additionalProperties: true, description: '{ providers?, services?, sub_accounts?: [names], tags?: { key: value } }' })),
    group_by: Type.Optional(Type.Union([Type.String({ description: 'service, sub_account or provider: one alert per group' }), Type.Null()])),
    thresholds: Type.Optional(Type.Array(Type.Number(), { description: 'daily_threshold: amounts; monthly_budget: percents of the budget (50, 80, 100); anomaly: robust z-scores (3.5)' })),
    budget: Type.Optional(Type.Number({ description: 'monthly_budget: the month’s budget' })),
    forecast_thresholds: Type.Optional(Type.Array(Type.Number(), { description: 'monthly_budget: percents of the budget for the month-end forecast (100); [] for none' })),
    min_spend: Type.Optional(Type.Number({ description: 'day_over_day, anomaly: a day below this spend never alerts' })),
    increase_amount: Type.Optional(Type.Number({ description: 'day_over_day: the increase over the previous day, as an amount' })),
    increase_percent: Type.Optional(Type.Number({ description: 'day_over_day: ... and / or as a percent' })),
    min_increase: Type.Optional(Type.Number({ description: 'anomaly: the day must exceed the median by at least this' })),
    min_history_days: Type.Optional(Type.Integer({ description: 'anomaly: closed days of the previous 28 needed (14 to 28)' })),
  },
  { additionalProperties: true, description: 'docs/alerts.md describes each kind' },
);
const Rule = Type.Object(
  {
    rule_id: Type.String(),
    name: Type.String(),
    kind: Type.String(),
    enabled: Type.Boolean(),
    currency: Type.String(),
    cost_column: Type.String(),
    scope: Type.Record(Type.String(), Type.Unknown()),
    group_by: Nullable(Type.String()),
    created_at: DateTime,
    updated_at: DateTime,
  },
  { additionalProperties: true },
);
const Alert = Type.Object({
  alert_id: Type.String(),
  rule_id: Type.String(),
  rule_name: Type.String(),
  rule_kind: Type.String(),
  group_key: Type.String(),
  basis: Type.String(),
  period_start: Type.String(),
  period_end: Type.String(),
  status: Type.String(),
  level: Type.Integer(),
  resolved_day: Nullable(Type.String()),
  resolution: Nullable(Type.String()),
  opened_at: DateTime,
  updated_at: DateTime,
  resolved_at: DateTime,
  details: Type.Record(Type.String(), Type.Unknown(), { description: 'the latest measurement: amounts, threshold, period, top contributors' }),
});
const Change = Type.Object({ alert_id: Type.String(), rule_id: Type.String(), rule_name: Type.String(), group_key: Type.String(), period_start: Type.String(), period_end: Type.String(), status: Type.String(), level: Type.Integer(), transition: Type.String() });
const Evaluation = Type.Object({
  org_slug: Type.String(),
  evaluated_at: Type.String(),
  rules: Type.Integer(),
  closed_through: Type.Record(Type.String(), Nullable(Type.String())),
  fired: Type.Array(Change),
  escalated: Type.Array(Change),
  resolved: Type.Array(Change),
  updated: Type.Integer(),
  events: Type.Integer(),
});

const alertBody = (alert: AlertView) => ({
  ...alert,
  opened_at: alert.opened_at.toISOString(),
  updated_at: alert.updated_at.toISOString(),
  resolved_at: alert.resolved_at?.toISOString() ?? null,
});

/** An org's cost rules and the alerts they raised (issue 13, item 4; docs/alerts.md), with the org's key. */
export function alertRoutes(server: FastifyInstance, app: App): void {
  const auth = orgAuth(app.orgs, app.settings);
  const tags = ['alerts'];
  const security = SECURITY.orgKey;
  const reads = SECURITY.orgKeyOrRoot;

  server.get<{ Params: Static<typeof OrgParams>; Querystring: Static<typeof AlertsQuery> }>('/api/v1/alerts/:org', {
    schema: { tags, security: reads, summary: 'Open and past cost alerts, open first', params: OrgParams, querystring: AlertsQuery, response: withErrors({ 200: Type.Object({ open: Type.Integer(), alerts: Type.Array(Alert) }) }, 400, 401, 403) },
    preValidation: auth,
  }, async (request) => {
    const alerts = await app.alerts.listAlerts(request.params.org, { status: request.query.status, ruleId: request.query.rule_id, limit: request.query.limit });
    return { open: alerts.filter((alert) => alert.status === 'open').length, alerts: alerts.map(alertBody) };
  });

  server.post<{ Params: Static<typeof OrgParams> }>('/api/v1/alerts/:org/evaluate', {
    schema: { tags, security, summary: 'Evaluate the org’s cost rules now (the process that executes runs only)', description: 'Measures closed charge days only. 409 when concurrent evaluations kept overtaking this one; 503 on a process without the warehouse.', params: OrgParams, response: withErrors({ 200: Evaluation }, 400, 401, 403, 409, 413, 415, 503) },
    preValidation: auth,
  }, async (request) => app.alerts.evaluate(request.params.org));

  server.get<{ Params: Static<typeof OrgParams> }>('/api/v1/alerts/:org/rules', {
    schema: { tags, security: reads, summary: 'The org’s cost rules', params: OrgParams, response: withErrors({ 200: Type.Object({ rules: Type.Array(Rule) }) }, 400, 401, 403) },
    preValidation: auth,
  }, async (request) => ({ rules: (await app.alerts.listRules(request.params.org)).map(ruleBody) }));

  server.post<{ Params: Static<typeof OrgParams>; Body: Static<typeof RuleInput> }>('/api/v1/alerts/:org/rules', {
    schema: { tags, security, summary: 'Create a cost rule', description: 'docs/alerts.md describes each kind and its fields; a 400 names the field that was wrong. 409 when the name is taken.', params: OrgParams, body: RuleInput, response: withErrors({ 201: Rule }, 400, 401, 403, 409, 413, 415) },
    preValidation: auth,
  }, async (request, reply) => reply.code(201).send(ruleBody(await app.alerts.createRule(request.params.org, request.body))));

  server.get<{ Params: Static<typeof RuleParams> }>('/api/v1/alerts/:org/rules/:rule_id', {
    schema: { tags, security: reads, summary: 'A cost rule', params: RuleParams, response: withErrors({ 200: Rule }, 400, 401, 403, 404) },
    preValidation: auth,
  }, async (request) => ruleBody(await app.alerts.getRule(request.params.org, request.params.rule_id)));

  server.put<{ Params: Static<typeof RuleParams>; Body: Static<typeof RuleInput> }>('/api/v1/alerts/:org/rules/:rule_id', {
    schema: { tags, security, summary: 'Replace a cost rule (its open alerts end when what it measures changes)', params: RuleParams, body: RuleInput, response: withErrors({ 200: Rule }, 400, 401, 403, 404, 409, 413, 415) },
    preValidation: auth,
  }, async (request) => ruleBody(await app.alerts.updateRule(request.params.org, request.params.rule_id, request.body, 'replace')));

  server.patch<{ Params: Static<typeof RuleParams>; Body: Static<typeof RuleInput> }>('/api/v1/alerts/:org/rules/:rule_id', {
    schema: { tags, security, summary: 'Change some fields of a cost rule', params: RuleParams, body: RuleInput, response: withErrors({ 200: Rule }, 400, 401, 403, 404, 409, 413, 415) },
    preValidation: auth,
  }, async (request) => ruleBody(await app.alerts.updateRule(request.params.org, request.params.rule_id, request.body, 'merge')));

  server.delete<{ Params: Static<typeof RuleParams> }>('/api/v1/alerts/:org/rules/:rule_id', {
    schema: { tags, security, summary: 'Delete a cost rule and its alerts', params: RuleParams, response: withErrors({ 204: Type.Null({ description: 'Deleted' }) }, 400, 401, 403, 404) },
    preValidation: auth,
  }, async (request, reply) => {
    await app.alerts.deleteRule(request.params.org, request.params.rule_id);
    return reply.code(204).send();
  });
}
