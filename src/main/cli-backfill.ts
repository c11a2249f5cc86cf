import { BACKFILL_MODES, DAY_OUTCOMES, MAX_CONCURRENT_CHILDREN, type BackfillDetail, type BackfillMode, type BackfillSummary } from '../scheduler/backfills.ts';
import { isUuid } from '../shared/ids.ts';
import type { App } from './app.ts';

const POLL_MS = 500;
const ENDED = new Set(['completed', 'completed_with_failures', 'cancelled']);

export interface BackfillCommand {
  /** The words after `backfill`: `<org>/<provider>/<domain>/<pipeline>`, or `status|cancel <org> <backfill_id>`. */
  args: string[];
  options: { 'start-date'?: string | undefined; 'end-date'?: string | undefined; mode?: string | undefined; 'max-concurrent'?: string | undefined; json?: boolean | undefined };
  /** `--param k=v` pairs, parsed. */
  parameters: Record<string, unknown>;
  out: (line: string) => void;
  /** Opens the app as every CLI command does; `execute` when this process may run the children itself. */
  withApp: (execute: boolean, fn: (app: App) => Promise<number>) => Promise<number>;
}

/**
 * `pipeline backfill`: starts a backfill through the same service as the API and follows it,
 * printing the counts per status each time they change. It runs the coordinator's passes
 * itself (safe beside a server's: passes share backfills out with SKIP LOCKED), so it works
 * alone with the embedded control plane too. Exits 0 only when every day completed or was skipped.
 */
export async function backfillCommand(command: BackfillCommand): Promise<number> {
  const { args, options, out } = command;
  const [first, org, backfillId] = args;
  if (first === 'status' || first === 'cancel') {
    const id = backfillIdArgument(backfillId);
    return command.withApp(false, async (app) => {
      const orgSlug = need(org, 'org');
      const backfill = first === 'cancel' ? await app.backfills.cancel(orgSlug, id, 'cli') : await app.backfills.get(orgSlug, id);
      if (!backfill) throw new Error(`backfill ${id} not found for ${orgSlug}; pipeline backfill <org>/<provider>/<domain>/<pipeline> starts one`);
      out(options.json ? JSON.stringify(backfill, null, 2) : describe(backfill).join('\n'));
      return 0;
    });
  }

  const target = need(first, '<org>/<provider>/<domain>/<pipeline>').split('/');
  if (target.length !== 4) throw new Error('the backfill target is <org>/<provider>/<domain>/<pipeline>');
  const [orgSlug, ...route] = target as [string, string, string, string];
  const mode = options.mode ?? 'missing';
  if (!(BACKFILL_MODES as readonly string[]).includes(mode)) throw new Error(`--mode takes ${BACKFILL_MODES.join(', ')}, got "${mode}"`);
  const rawConcurrent = options['max-concurrent'];
  if (rawConcurrent !== undefined && !/^\d{1,2}$/.test(rawConcurrent)) throw new Error(`--max-concurrent takes an integer from 1 to ${MAX_CONCURRENT_CHILDREN}, got "${rawConcurrent}"`);

  return command.withApp(true, async (app) => {
    const created = await app.backfills.create({
      orgSlug, route: route.join('/'), startDate: need(options['start-date'], '--start-date D'), endDate: need(options['end-date'], '--end-date D'),
      mode: mode as BackfillMode, maxConcurrent: rawConcurrent === undefined ? undefined : Number(rawConcurrent), parameters: command.parameters, createdBy: 'cli',
    });
    if (!options.json) out(`backfill ${created.backfill_id}: ${created.route} for ${orgSlug}, ${created.start_date}..${created.end_date}, mode ${created.mode}, ${created.counts.pending} of ${created.total_days} days to run`);
    app.worker?.start();
    let shown = '';
    let deferral: string | null = null;
    for (;;) {
      await app.backfills.pass(app.clock.now());
      const backfill = await app.backfills.get(orgSlug, created.backfill_id);
      if (!backfill) throw new Error(`backfill ${created.backfill_id} disappeared`);
      if (!options.json) {
        const line = countsLine(backfill);
        if (line !== shown) out(`${app.clock.now().toISOString().slice(11, 19)} ${line}`);
        shown = line;
        if (backfill.last_deferral !== deferral && backfill.last_deferral && !ENDED.has(backfill.status)) out(`  waiting: ${backfill.last_deferral}`);
        deferral = backfill.last_deferral;
      }
      if (ENDED.has(backfill.status)) {
        out(options.json ? JSON.stringify(backfill, null, 2) : describe(backfill).join('\n'));
        return backfill.status === 'completed' ? 0 : 1;
      }
      await app.clock.sleep(POLL_MS);
    }
  });
}

/** `completed 10, failed 1, running 2, pending 18, skipped 0 (11/31 days, 35%)` */
export function countsLine(backfill: BackfillSummary): string {
  const counts = DAY_OUTCOMES.filter((outcome) => outcome !== 'skipped' || backfill.counts.skipped > 0).map((outcome) => `${outcome} ${backfill.counts[outcome]}`);
  return `${counts.join(', ')} (${backfill.progress.done}/${backfill.progress.total} days, ${backfill.progress.percent}%)`;
}

function describe(backfill: BackfillDetail): string[] {
  return [
    `backfill ${backfill.backfill_id} ${backfill.status}: ${backfill.route} ${backfill.start_date}..${backfill.end_date}, mode ${backfill.mode}, max ${backfill.max_concurrent} at once`,
    `  ${countsLine(backfill)}`,
    ...(backfill.last_deferral && !ENDED.has(backfill.status) ? [`  last deferral: ${backfill.last_deferral}`] : []),
    ...backfill.failed_days.map((day) => `  failed ${day.day}${day.run_id ? ` run ${day.run_id}` : ''}: ${day.error_message ?? 'no error recorded'}`),
  ];
}

function backfillIdArgument(value: string | undefined): string {
  const id = need(value, 'backfill_id');
  if (!isUuid(id)) throw new Error('backfill id must be a UUID, as pipeline backfill prints it');
  return id;
}

function need(value: string | undefined, name: string): string {
  if (!value) throw new Error(`missing ${name}; see pipeline --help`);
  return value;
}
