import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { COST_COLUMNS, COST_GROUPS, dailyCost, MAX_DAYS } from '../../focus/daily-cost.ts';
import type { App } from '../../main/app.ts';
import { isoDate } from '../../shared/clock.ts';
import { UnavailableError } from '../../shared/errors.ts';
import { orgAuth } from '../auth.ts';
import { OrgParams, withErrors } from '../schemas.ts';

const IsoDate = (description: string) => Type.String({ format: 'date', maxLength: 10, description });
const Amount = Type.String({ description: 'exact decimal text, e.g. 1234.500000000' });

const DailyCostQuery = Type.Object({
  from: Type.Optional(IsoDate('first charge day (default: 29 days before to)')),
  to: Type.Optional(IsoDate('last charge day (default: today, UTC)')),
  group_by: Type.Union(COST_GROUPS.map((group) => Type.Literal(group)), { default: 'provider' }),
  cost_column: Type.Union(COST_COLUMNS.map((column) => Type.Literal(column)), { default: 'EffectiveCost' }),
  currency: Type.String({ pattern: '^[A-Z]{3}$', default: 'USD', description: 'billing currency counted (ISO 4217); rows in others are listed in other_currencies' }),
});

const DailyCostSchema = Type.Object({
  from: Type.String(),
  to: Type.String(),
  group_by: Type.String(),
  cost_column: Type.String(),
  currency: Type.String(),
  days: Type.Array(Type.Object({ day: Type.String(), group: Type.String(), cost: Amount })),
  groups: Type.Array(Type.Object({ group: Type.String(), total: Amount }), { description: 'largest first' }),
  total: Amount,
  month_to_date: Type.Object({ month: Type.String(), from: Type.String(), through: Type.String(), total: Amount }, { description: 'the current month (UTC) from its 1st through today' }),
  other_currencies: Type.Array(Type.String()),
});

/** FOCUS cost per day for charts (the dashboard's cost page): summed in the warehouse, the org's rows only. */
export function costSummaryRoutes(server: FastifyInstance, app: App): void {
  server.get<{ Params: Static<typeof OrgParams>; Querystring: Static<typeof DailyCostQuery> }>('/api/v1/focus/daily-cost/:org', {
    schema: {
      tags: ['focus'], security: [{ apiKey: [] }, { rootKey: [] }],
      summary: `FOCUS cost per charge day, by provider or service, with the month-to-date total (at most ${MAX_DAYS} days)`,
      params: OrgParams, querystring: DailyCostQuery, response: withErrors({ 200: DailyCostSchema }, 400, 401, 403, 503),
    },
    preValidation: orgAuth(app.orgs, app.settings),
  }, async (request) => {
    if (!app.warehouse) throw new UnavailableError('This process has no warehouse: ask a process that executes runs');
    const { from, to, group_by: groupBy, cost_column: costColumn, currency } = request.query;
    return dailyCost(app.warehouse, { orgSlug: request.params.org, env: app.settings.env, from, to, groupBy, costColumn, currency, today: isoDate(app.clock.now()) });
  });
}
