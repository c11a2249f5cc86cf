import type { ScheduleChanges, ScheduleView } from '../store/schedules.ts';
import type { App } from './app.ts';

interface SchedulesCommand {
  args: string[];
  options: { json?: boolean | undefined; cron?: string | undefined; timezone?: string | undefined; missed?: string | undefined; 'max-catchup'?: string | undefined };
  parameters: Record<string, unknown>;
  out: (line: string) => void;
  withApp: (execute: boolean, fn: (app: App) => Promise<number>) => Promise<number>;
}

export const SCHEDULES_USAGE = `  schedules list <org>                    an org's schedules: cron, timezone, next and last ticks
  schedules set <org> <provider/domain/pipeline | schedule_id> [--cron C] [--timezone TZ] [--param k={{ today - 3 days }} ...]
                [--missed skip|once|all] [--max-catchup N]
                                          change a schedule (the pipeline's YAML no longer applies to it)
  schedules enable|disable <org> <provider/domain/pipeline | schedule_id>
  schedules trigger [<org> <provider/domain/pipeline | schedule_id>]
                                          enqueue what is due now, or one tick of one schedule now`;

/** `pipeline schedules …`: the same services as the scheduler endpoints, as the operator. */
export function schedulesCommand(command: SchedulesCommand): Promise<number> {
  const [verb, org, target] = command.args;
  const print = (text: string, json: unknown) => command.out(command.options.json ? JSON.stringify(json, null, 2) : text);
  return command.withApp(false, async (app) => {
    switch (verb) {
      case 'list': {
        if (!(await app.orgs.get(needOrg(org)))) throw new Error(`organization ${org} not found`);
        const schedules = await app.schedules.list({ orgSlug: needOrg(org) });
        print(schedules.length === 0 ? `${org} has no schedules (its pipelines need credentials it does not have yet)` : schedules.map(describe).join('\n'), schedules);
        return 0;
      }
      case 'set':
      case 'enable':
      case 'disable': {
        const schedule = await findSchedule(app, needOrg(org), target);
        const changes = verb === 'set' ? setChanges(command) : { is_enabled: verb === 'enable' };
        const updated = await app.scheduler.update(schedule.schedule_id, schedule.org_slug, changes, 'operator');
        print(describe(updated), updated);
        return 0;
      }
      case 'trigger': {
        const result = org ? await app.scheduler.triggerNow((await findSchedule(app, org, target)).schedule_id, org) : await app.scheduler.pass();
        print(`${result.enqueued} runs enqueued, ${result.deferred} deferred by quota, ${result.skipped} skipped (${result.schedules} schedules ticked)`, result);
        return 0;
      }
      default:
        throw new Error(`schedules takes list, set, enable, disable or trigger, got ${verb === undefined ? 'nothing' : `'${verb}'`}; see pipeline --help`);
    }
  });
}

function setChanges(command: SchedulesCommand): ScheduleChanges {
  const { cron, timezone, missed } = command.options;
  const changes: ScheduleChanges = {};
  if (cron !== undefined) changes.cron_expression = cron;
  if (timezone !== undefined) changes.timezone = timezone;
  if (missed !== undefined) {
    if (missed !== 'skip' && missed !== 'once' && missed !== 'all') throw new Error(`--missed takes skip, once or all, got '${missed}'`);
    changes.missed_policy = missed;
  }
  if (command.options['max-catchup'] !== undefined) {
    const n = Number(command.options['max-catchup']);
    if (!Number.isInteger(n) || n < 1 || n > 100) throw new Error(`--max-catchup takes a whole number from 1 to 100, got '${command.options['max-catchup']}'`);
    changes.max_catchup = n;
  }
  if (Object.keys(command.parameters).length > 0) changes.parameters = command.parameters as ScheduleChanges['parameters'];
  if (Object.keys(changes).length === 0) throw new Error('schedules set needs at least one of --cron, --timezone, --param, --missed, --max-catchup');
  return changes;
}

async function findSchedule(app: App, org: string, target: string | undefined): Promise<ScheduleView> {
  if (!target) throw new Error('name the schedule: <provider/domain/pipeline> or its schedule_id (pipeline schedules list <org>)');
  const schedules = await app.schedules.list({ orgSlug: org });
  const found = schedules.find((s) => s.schedule_id === target || `${s.provider}/${s.domain}/${s.pipeline}` === target);
  if (!found) throw new Error(`${org} has no schedule ${target}; pipeline schedules list ${org} shows its schedules`);
  return found;
}

function needOrg(org: string | undefined): string {
  if (!org) throw new Error('missing org; see pipeline --help');
  return org;
}

function describe(s: ScheduleView): string {
  const last = s.last_scheduled_for ? `last ${s.last_scheduled_for.toISOString()} ${s.last_outcome}${s.last_run_status ? ` (run ${s.last_run_status})` : ''}${s.last_reason ? `: ${s.last_reason}` : ''}` : 'never ticked';
  return `${s.schedule_id} ${s.provider}/${s.domain}/${s.pipeline} "${s.cron_expression}" ${s.timezone} ${s.is_enabled ? 'enabled' : 'disabled'} next ${s.is_enabled ? (s.next_run_at?.toISOString() ?? '-') : '-'}; ${last}`;
}
