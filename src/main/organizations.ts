import { InputError } from '../shared/errors.ts';
import type { App } from './app.ts';

/** Creating an org with a plan from configs/system/plans.json: shared by the admin API and the CLI. */
export async function createOrganization(app: Pick<App, 'orgs' | 'plans' | 'scheduler'>, input: { org_slug: string; name?: string | undefined; plan?: string | undefined }) {
  const plan = input.plan ?? 'TRIAL';
  const limits = app.plans[plan];
  if (!limits) throw new InputError(`plan must be one of ${Object.keys(app.plans).join(', ')}, got ${plan}`, { field: 'plan' });
  if (!/^[a-z][a-z0-9_]{1,48}[a-z0-9]$/.test(input.org_slug)) throw new InputError('org_slug must be 3-50 lowercase letters, digits or _, starting with a letter', { field: 'org_slug' });
  const key = await app.orgs.create(input.org_slug, input.name ?? input.org_slug, limits);
  // The pipelines it can run without credentials are scheduled at once.
  await app.scheduler.sync(input.org_slug);
  return { org_slug: input.org_slug, ...key };
}
