import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadSettings, type Settings } from '../config/settings.ts';
import { exportOrgTable } from '../focus/export-focus.ts';
import { validateFocusFile } from '../focus/validate-focus-file.ts';
import { builtinProcessors } from '../processors/builtin.ts';
import { formatProblem, loadPipelineConfigs } from '../pipelines/load-configs.ts';
import { errorMessage } from '../shared/errors.ts';
import { isUuid } from '../shared/ids.ts';
import { createLogger, silentLogger } from '../shared/logger.ts';
import { openControlPlane } from '../store/open-control-plane.ts';
import { importPlans } from '../subscription/plans-import.ts';
import { createApp, openWarehouse, type App } from './app.ts';
import { runAndFollow } from './cli-run.ts';
import { SCHEDULES_USAGE, schedulesCommand } from './cli-schedules.ts';
import { commandHelp, commandNames, nearestCommand, plainParseError } from './cli-usage.ts';
import { backfillCommand } from './cli-backfill.ts';
import { NOTIFY_USAGE, notifyCommand } from './cli-notify.ts';
import { ALERTS_USAGE, alertsCommand } from './cli-alerts.ts';
import { AUDIT_USAGE, auditCommand, auditedApp } from './cli-audit.ts';
import { PROCEDURES_USAGE, proceduresCommand } from './cli-procedures.ts';
import { createOrganization } from './organizations.ts';
import { runWorker, serve } from './serve.ts';

const USAGE = `Usage: pipeline <command> [options]

  serve                                   API on PORT (8001) with in-process workers
  worker                                  execute queued runs, no API
  validate                                check every pipeline config, list all problems
  validate-focus <file.csv|parquet> [--provider P | --applicability-criteria A,B|ALL|FILE] [--verbose] [--json]
                                          check any FOCUS 1.3 file against the conformance rules; each row
                                          under its own profile (x_SourceSystem) unless one is given
  org create <slug> [--plan P] [--name N] create an org; prints its API key once
  org list                                list orgs
  key create <org>                        new API key for an org (printed once)
  key revoke <org> <key_id>               revoke a key
  run <org>/<provider>/<domain>/<pipeline> [--date D | --start-date D --end-date D] [--param k=v ...]
                                          run and follow it; exits non-zero unless completed
  backfill <org>/<provider>/<domain>/<pipeline> --start-date D --end-date D [--mode missing|failed|all] [--max-concurrent N] [--param k=v ...]
                                          a child run per day, followed live; exits non-zero if a day failed
  backfill status|cancel <org> <backfill_id>
                                          a backfill's counts and failed days; or cancel it
  status <org> <run_id>                   a run and its steps
  cancel <org> <run_id>                   cancel a pending or running run
  runs <org> [--provider P] [--limit N]   recent runs
  logs <org> <run_id>                     a run's log lines
  quality <org> <run_id> [--failed]       a run's data-quality results (FOCUS rules, reconciliations)
  credential set|rotate <org> <provider> [--credential-id ID] [--secret-env VAR] [--metadata JSON]
                                          store a provider secret, read from stdin or the named variable
  credential list <org>                   credentials (metadata only)
  credential delete <org> <provider> [--credential-id ID]
  plans import <org> <plans.csv>          replace the org's SaaS subscription plans (all rows valid, or nothing)
  export <org> --format csv|parquet --out FILE [--table T] [--from D --to D] [--run RUN_ID]
                                          an org's FOCUS rows (or another output table) to a file
${SCHEDULES_USAGE}
${NOTIFY_USAGE}
${ALERTS_USAGE}
${AUDIT_USAGE}
${PROCEDURES_USAGE}

Options: --json for machine-readable output. Configuration comes from the environment (README).`;

const OPTIONS = {
  json: { type: 'boolean' },
  plan: { type: 'string' },
  name: { type: 'string' },
  date: { type: 'string' },
  'start-date': { type: 'string' },
  mode: { type: 'string' },
  'max-concurrent': { type: 'string' },
  'end-date': { type: 'string' },
  param: { type: 'string', multiple: true },
  provider: { type: 'string' },
  limit: { type: 'string' },
  execute: { type: 'boolean' },
  verbose: { type: 'boolean' },
  'applicability-criteria': { type: 'string' },
  failed: { type: 'boolean' },
  table: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  run: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  'credential-id': { type: 'string' },
  'secret-env': { type: 'string' },
  metadata: { type: 'string' },
  cron: { type: 'string' },
  timezone: { type: 'string' },
  missed: { type: 'string' },
  'max-catchup': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function main(argv: string[], out: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<number> {
  if (argv[0] === 'audit') return auditCommand(argv.slice(1), { out, withApp: (fn) => withApp(loadSettings(), false, fn) });
  if (argv[0] === 'notify') return notifyCommand(argv.slice(1), { out, withApp: (fn) => withApp(loadSettings(), false, fn) });
  if (argv[0] === 'procedures') return proceduresCommand(argv.slice(1), { out, withApp: (fn) => withApp(loadSettings(), false, fn) });
  if (argv[0] === 'alerts') {
    const settings = loadSettings();
    return alertsCommand(argv.slice(1), { out, withApp: (fn) => withApp(settings, false, fn), openWarehouse: () => openWarehouse(settings, 'POST /api/v1/alerts/{org}/evaluate with the org\'s X-API-Key') });
  }
  const { values, positionals } = readCommandLine(argv);
  const [command, ...rest] = positionals;
  if (!command) {
    out(USAGE);
    return values.help ? 0 : 2;
  }
  const commands = commandNames(USAGE);
  if (!commands.includes(command)) {
    const nearest = nearestCommand(command, commands);
    throw new Error(`unknown command '${command}'${nearest ? `; did you mean '${nearest}'?` : ''} (pipeline --help lists the commands)`);
  }
  if (values.help) {
    out(commandHelp(USAGE, command) ?? USAGE);
    return 0;
  }
  const settings = loadSettings();
  const print = (text: string, json: unknown) => out(values.json ? JSON.stringify(json, null, 2) : text);

  switch (command) {
    case 'serve':
      await serve(settings);
      return -1; // keeps running
    case 'worker':
      await runWorker(settings);
      return -1;
    case 'validate': {
      const { pipelines, problems } = await loadPipelineConfigs(settings.configsDir, builtinProcessors());
      if (values.json) out(JSON.stringify({ pipelines: pipelines.map((p) => p.route), problems }, null, 2));
      else out(problems.length === 0 ? `${pipelines.length} pipelines valid` : `${problems.length} problems:\n${problems.map(formatProblem).join('\n')}`);
      return problems.length === 0 ? 0 : 1;
    }
    case 'export': {
      // Reads the warehouse file, which only one process may open: next to a running server, use its export endpoint.
      const warehouse = await openWarehouse(settings, 'GET /api/v1/focus/export/{org}?format=csv|parquet&from=&to= with the org\'s X-API-Key');
      try {
        const file = need(values.out, '--out FILE');
        const { rows } = await exportOrgTable(warehouse, { orgSlug: need(rest[0], 'org'), env: settings.env, table: values.table, from: values.from, to: values.to, runId: values.run, format: values.format ?? 'csv', path: file });
        print(`${rows} rows written to ${file}`, { rows, file: file });
        return 0;
      } finally {
        await warehouse.close();
      }
    }
    case 'validate-focus': {
      await existingFile(need(rest[0], '<file.csv|parquet>'));
      const criteria = values['applicability-criteria'];
      const outcome = await validateFocusFile(need(rest[0], '<file.csv|parquet>'), {
        json: values.json ?? false,
        verbose: values.verbose ?? false,
        ...(values.provider ? { provider: values.provider } : {}),
        ...(criteria !== undefined ? { applicabilityCriteria: criteria } : {}),
      });
      out(outcome.report);
      return outcome.exitCode;
    }
    case 'schedules':
      return schedulesCommand({ args: rest, options: values, parameters: parseParams(values.param ?? []), out, withApp: (execute, fn) => withApp(settings, execute, fn) });
    case 'backfill':
      return backfillCommand({ args: rest, options: values, parameters: parseParams(values.param ?? []), out, withApp: (execute, fn) => withApp(settings, execute, fn) });
  }

  // A malformed run id is known to be wrong before the control plane is opened.
  if (['status', 'logs', 'quality', 'cancel'].includes(command)) runIdArgument(rest[1]);
  return withApp(settings, command === 'run' && values.execute !== false, async (app) => {
    switch (`${command} ${['org', 'key', 'credential', 'plans'].includes(command) ? rest[0] : ''}`.trim()) {
      case 'org create': {
        const created = await createOrganization(app, { org_slug: need(rest[1], 'slug'), name: values.name, plan: values.plan });
        print(`Created ${created.org_slug}. API key (shown once): ${created.api_key}`, created);
        return 0;
      }
      case 'org list': {
        const orgs = await app.orgs.list();
        print(orgs.map((org) => `${org.org_slug}\t${org.name}`).join('\n'), orgs);
        return 0;
      }
      case 'key create': {
        const key = await app.orgs.createKey(need(rest[1], 'org'));
        print(`API key ${key.key_id} (shown once): ${key.api_key}`, key);
        return 0;
      }
      case 'key revoke':
        await app.orgs.revokeKey(need(rest[1], 'org'), need(rest[2], 'key_id'));
        print('revoked', { revoked: rest[2] });
        return 0;
      case 'credential set':
      case 'credential rotate': {
        const [org, provider] = [need(rest[1], 'org'), need(rest[2], 'provider')];
        const credentialId = values['credential-id'] ?? 'default';
        const exists = (await app.credentials.list(org)).some((c) => c.provider === provider && c.credential_id === credentialId);
        if (rest[0] === 'rotate' && !exists) throw new Error(`no ${provider} credential "${credentialId}" to rotate for ${org}; use credential set`);
        await app.orgs.subscription(org);
        const metadata = values.metadata ? (JSON.parse(values.metadata) as Record<string, unknown>) : undefined;
        const info = await app.credentials.set(org, { provider, credentialId, secret: await readSecret(values['secret-env']), metadata });
        await app.scheduler.sync(org);
        print(`${info.rotated ? 'Rotated' : 'Stored'} ${provider} credential "${credentialId}" for ${org} (version ${info.version})`, info);
        return 0;
      }
      case 'credential list': {
        const list = await app.credentials.list(need(rest[1], 'org'));
        print(list.map((c) => `${c.provider}\t${c.credential_id}\tv${c.version}\t${JSON.stringify(c.metadata)}`).join('\n'), list);
        return 0;
      }
      case 'credential delete':
        await app.credentials.delete(need(rest[1], 'org'), need(rest[2], 'provider'), values['credential-id'] ?? 'default');
        print('deleted', { deleted: rest[2] });
        return 0;
      case 'plans import': {
        const org = need(rest[1], 'org');
        const csvText = await readFile(need(rest[2], '<plans.csv>'), 'utf8');
        if (!(await app.orgs.get(org))) throw new Error(`organization ${org} not found`);
        const warehouse = app.warehouse ?? (await openWarehouse(settings, 'PUT /api/v1/subscriptions/plans/{org} with Content-Type: text/csv and the org\'s X-API-Key'));
        try {
          const rows = await importPlans(warehouse, { orgSlug: org, dataset: `${org}_${settings.env}`, csvText, importedAt: app.clock.now(), runId: randomUUID() });
          print(`Imported ${rows} plan rows for ${org}`, { rows });
        } finally {
          if (!app.warehouse) await warehouse.close();
        }
        return 0;
      }
      case 'run': {
        const target = need(rest[0], '<org>/<provider>/<domain>/<pipeline>').split('/');
        if (target.length !== 4) throw new Error('the run target is <org>/<provider>/<domain>/<pipeline>');
        await knownOrg(app, target[0]);
        const body: Record<string, unknown> = { ...parseParams(values.param ?? []) };
        if (values.date) body.date = values.date;
        if (values['start-date']) body.start_date = values['start-date'];
        if (values['end-date']) body.end_date = values['end-date'];
        app.worker?.start();
        const run = await runAndFollow(app, { orgSlug: target[0] as string, route: target.slice(1).join('/'), body, json: values.json ?? false, out, clock: app.clock });
        return run.status === 'completed' ? 0 : 1;
      }
      case 'cancel': {
        const [org, runId] = [need(rest[0], 'org'), await knownRun(app, rest[0], rest[1])];
        const outcome = await app.requests.cancel(org, runId, 'cli');
        print(outcome.status === 'cancelled' ? `run ${runId} cancelled` : `run ${runId} is cancelling: its worker stops its steps at the next heartbeat`, outcome);
        return 0;
      }
      case 'status': {
        const [org, runId] = [need(rest[0], 'org'), runIdArgument(rest[1])];
        const run = await app.runs.get(org, runId);
        if (!run) throw new Error(`run ${runId} not found for ${org}`);
        const steps = await app.runs.steps(org, runId);
        print([`${run.run_id} ${run.status} ${run.provider}/${run.domain}/${run.pipeline}${run.error_message ? `: ${run.error_message}` : ''}`, ...steps.map((s) => `  ${s.step_id} ${s.status} attempts=${s.attempts} rows=${s.records_processed}${s.error_message ? ` ${s.error_message}` : ''}`)].join('\n'), { ...run, steps });
        return 0;
      }
      case 'runs': {
        const org = await knownOrg(app, rest[0]);
        const runs = await app.runs.list(org, { limit: Number(values.limit ?? 20), ...(values.provider ? { provider: values.provider } : {}) });
        if (runs.length === 0 && !values.json) {
          out(`${org} has no runs${values.provider ? ` of provider ${values.provider}` : ''} yet`);
          return 0;
        }
        print(runs.map((r) => `${r.created_at.toISOString()} ${r.run_id} ${r.status.padEnd(10)} ${r.provider}/${r.domain}/${r.pipeline}`).join('\n'), runs);
        return 0;
      }
      case 'logs': {
        const [org, runId] = [need(rest[0], 'org'), await knownRun(app, rest[0], rest[1])];
        const logs = await app.runs.logs(org, runId);
        print(logs.map((l) => `${l.at.toISOString()} ${l.level.padEnd(5)} ${l.step_id ?? '-'} ${l.message}${l.fields ? ` ${JSON.stringify(l.fields)}` : ''}`).join('\n'), logs);
        return 0;
      }
      case 'quality': {
        const results = await app.runs.quality(need(rest[0], 'org'), await knownRun(app, rest[0], rest[1]), values.failed ? 'fail' : undefined);
        const counts = ['pass', 'fail', 'skipped', 'warn'].map((status) => `${results.filter((r) => r.status === status).length} ${status}`).join(', ');
        const shown = results.filter((r) => r.status === 'fail' || r.status === 'warn' || r.check_kind !== 'focus_rule');
        print([`${results.length} results: ${counts}`, ...shown.map((r) => `  ${r.status.padEnd(5)} ${r.step_id} ${r.rule_id}: ${r.description}${r.failing_rows ? ` (${r.failing_rows} rows)` : ''}`)].join('\n'), results);
        return 0;
      }
      default:
        out(USAGE);
        return 2;
    }
  });
}

/**
 * Opens the same services the server uses. Next to a running server (which owns the embedded
 * data folder) the control plane is reached through its socket and runs are left to its
 * workers; alone, this process owns the folder and executes `run` itself.
 */
async function withApp(settings: Settings, wantsExecution: boolean, fn: (app: App) => Promise<number>): Promise<number> {
  const controlPlane = await openControlPlane({ dataDir: settings.dataDir, databaseUrl: settings.databaseUrl });
  const execute = wantsExecution && controlPlane.mode === 'embedded';
  const logger = execute ? createLogger({ level: 'warn' }) : silentLogger();
  try {
    const app = await createApp(settings, { logger, execute, controlPlane });
    try {
      // Its admin commands call the services directly: recorded as the API's are (cli-audit.ts).
      return await fn(auditedApp(app));
    } finally {
      await app.close();
    }
  } finally {
    await controlPlane.close();
  }
}

/** A secret never comes from argv (shell history, ps): from a named environment variable or stdin. */
async function readSecret(variable: string | undefined): Promise<string> {
  if (variable) {
    const value = process.env[variable];
    if (!value) throw new Error(`environment variable ${variable} is empty or not set`);
    return value;
  }
  if (process.stdin.isTTY) process.stderr.write('Paste the secret, then press Ctrl-D:\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const secret = Buffer.concat(chunks).toString('utf8').trim();
  if (!secret) throw new Error('no secret on stdin');
  return secret;
}

/** The command line by OPTIONS; a mistake in it is said in the CLI's words, naming the command's help. */
function readCommandLine(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw plainParseError(error, argv.find((arg) => !arg.startsWith('-')));
  }
}

function need(value: string | undefined, name: string): string {
  if (!value) throw new Error(`missing ${name}; see pipeline --help`);
  return value;
}

/** DuckDB's own error for a missing file is an IO error quoting its statement; say it plainly. */
async function existingFile(path: string): Promise<string> {
  const found = await stat(path).catch(() => undefined);
  if (!found?.isFile()) throw new Error(`no such file: ${path}${found ? ' is a directory' : ''}; give a FOCUS CSV or Parquet file, such as one written by pipeline export <org> --format csv --out focus.csv`);
  return path;
}

/** A run id is a UUID, as pipeline run prints it: anything else names no run (and PostgreSQL would refuse it as uuid). */
function runIdArgument(value: string | undefined): string {
  const runId = need(value, 'run_id');
  if (!isUuid(runId)) throw new Error('run id must be a UUID, as pipeline run prints it; pipeline runs <org> lists the runs of an org');
  return runId;
}

/** An org that exists: a command about one that does not says so instead of printing nothing. */
async function knownOrg(app: App, org: string | undefined): Promise<string> {
  const orgSlug = need(org, 'org');
  if (!(await app.orgs.get(orgSlug))) throw new Error(`organization ${orgSlug} does not exist; pipeline org list shows the orgs, pipeline org create ${orgSlug} creates it`);
  return orgSlug;
}

/** The run id of an org's existing run: logs and quality of a run that is not there would print nothing, as if it had none. */
async function knownRun(app: App, org: string | undefined, value: string | undefined): Promise<string> {
  const [orgSlug, runId] = [need(org, 'org'), runIdArgument(value)];
  if (!(await app.runs.get(orgSlug, runId))) throw new Error(`run ${runId} not found for ${orgSlug}; pipeline runs ${orgSlug} lists its runs`);
  return runId;
}

function parseParams(pairs: string[]): Record<string, unknown> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`--param takes key=value, got "${pair}"`);
      const raw = pair.slice(at + 1);
      // Numbers and booleans as JSON would send them; anything else stays a string.
      const value = /^(-?\d+(\.\d+)?|true|false)$/.test(raw) ? JSON.parse(raw) : raw;
      return [pair.slice(0, at), value];
    }),
  );
}

export function reportError(error: unknown): void {
  process.stderr.write(`pipeline: ${errorMessage(error)}\n`);
}
