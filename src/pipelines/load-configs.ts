import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { planProblems } from '../engine/plan.ts';
import { resolveRunParameters } from '../engine/run-parameters.ts';
import type { ProcessorRegistry } from '../processors/registry.ts';
import { checkCron, pipelineSchedule } from '../scheduler/pipeline-schedule.ts';
import { checkScheduleTemplate, evaluateScheduleTemplate } from '../scheduler/schedule-template.ts';
import { daysBetween } from '../shared/clock.ts';
import { InputError } from '../shared/errors.ts';
import { PipelineFileSchema, type PipelineConfig, type PipelineFile } from './config-schema.ts';

/** Top-level folders of `configs/` that hold data, not pipelines. */
const NOT_PIPELINES = new Set(['system', 'schemas', 'pricing', 'focus']);

export interface ConfigProblem {
  /** Path of the file relative to the configs folder. */
  file: string;
  /** Where inside the file, as a JSON-ish path (`steps[1].config.query`). */
  path: string;
  line?: number | undefined;
  message: string;
}

export class ConfigLoadError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(`Pipeline configs have ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map(formatProblem).join('\n')}`);
    this.problems = problems;
  }
}

export function formatProblem(problem: ConfigProblem): string {
  return `- ${problem.file}${problem.line ? `:${problem.line}` : ''} ${problem.path}: ${problem.message}`;
}

export interface LoadOptions {
  /** MAX_RUN_RANGE_DAYS of the service, which a schedule's run bodies must keep to (default 366, as in settings). */
  maxRangeDays?: number;
}

/**
 * Every day of a leap year, from 1 January: a schedule's template is evaluated for each, so a
 * default refused only on some days (the 1st of a month, 29 February) is found at load time.
 */
const SAMPLE_TICK_DAYS = daysBetween('2028-01-01', '2028-12-31');

/** Loads and validates every pipeline YAML, collecting all problems instead of stopping at the first. */
export async function loadPipelineConfigs(configsDir: string, processors: ProcessorRegistry, options: LoadOptions = {}): Promise<{ pipelines: PipelineConfig[]; problems: ConfigProblem[] }> {
  const maxRangeDays = options.maxRangeDays ?? 366;
  // verbose: errors carry their parentSchema, whose description and union branches describe() names.
  const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
  const validateFile = ajv.compile<PipelineFile>(PipelineFileSchema);
  const stepValidators = new Map<string, ValidateFunction>();
  const validatorFor = (type: string) => {
    let validate = stepValidators.get(type);
    const processor = processors.get(type);
    if (!validate && processor) stepValidators.set(type, (validate = ajv.compile(processor.configSchema)));
    return validate;
  };

  const pipelines: PipelineConfig[] = [];
  const problems: ConfigProblem[] = [];
  const routes = new Map<string, string>();

  for (const file of await pipelineFiles(configsDir)) {
    const name = relative(configsDir, file).split(sep).join('/');
    const lineCounter = new LineCounter();
    const document = parseDocument(await readFile(file, 'utf8'), { lineCounter });
    const lineOf = (path: (string | number)[]) => {
      const node = document.getIn(path, true);
      return isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : undefined;
    };
    const report = (path: (string | number)[], message: string) => problems.push({ file: name, path: formatPath(path), line: lineOf(path), message });

    if (document.errors.length > 0) {
      for (const error of document.errors) problems.push({ file: name, path: '(yaml)', line: error.linePos?.[0]?.line, message: error.message.split('\n')[0] ?? error.message });
      continue;
    }
    const content: unknown = document.toJS();
    if (!validateFile(content)) {
      for (const error of branchErrors(validateFile.errors ?? [])) report(errorPath(error), describe(error));
      continue;
    }

    const segments = name.replace(/\.ya?ml$/, '').split('/');
    if (segments.length < 3) {
      report([], `a pipeline file must sit at least two folders deep (…/{provider}/{domain}/{pipeline}.yml) to have a route`);
      continue;
    }
    const route = segments.slice(-3).join('/');
    const other = routes.get(route);
    if (other) report([], `route ${route} is already answered by ${other}`);
    routes.set(route, name);

    let valid = true;
    const fail = (path: (string | number)[], message: string) => {
      valid = false;
      report(path, message);
    };
    content.steps.forEach((step, i) => {
      const validate = validatorFor(step.ps_type);
      if (!validate) return fail(['steps', i, 'ps_type'], `unknown processor "${step.ps_type}"; expected one of ${processors.types().join(', ')}`);
      if (!validate(step.config ?? {})) for (const error of branchErrors(validate.errors ?? [])) fail(['steps', i, 'config', ...errorPath(error)], describe(error));
    });
    for (const problem of planProblems(content.steps)) fail(problem.path.split(/[.[\]]/).filter(Boolean).map((part) => (/^\d+$/.test(part) ? Number(part) : part)), problem.message);
    const pipeline: PipelineConfig = { ...content, route, file: name };
    for (const problem of scheduleProblems(pipeline, maxRangeDays)) fail(problem.path, problem.message);
    if (valid && other === undefined) pipelines.push(pipeline);
  }
  return { pipelines, problems };
}

/**
 * The schedule's cron and timezone, its template's placeholders, and the run body it gives on
 * every sample day checked as admission would check it: a default refused at every tick (or
 * on every 1st of a month) is a config problem, not a stream of failed ticks.
 */
function scheduleProblems(pipeline: PipelineConfig, maxRangeDays: number): { path: (string | number)[]; message: string }[] {
  const schedule = pipelineSchedule(pipeline);
  if (!schedule) return [];
  const objectForm = typeof pipeline.schedule === 'object';
  const problems: { path: (string | number)[]; message: string }[] = [];
  const parameterPath = (field: string | undefined): (string | number)[] => {
    const name = field?.replace(/^parameters\./, '');
    if (!objectForm) return ['schedule'];
    if (name !== undefined && Object.hasOwn(schedule.parameters, name)) return ['schedule', 'parameters', name];
    return typeof pipeline.schedule === 'object' && pipeline.schedule.parameters !== undefined ? ['schedule', 'parameters'] : ['schedule'];
  };
  const attempt = (check: () => void, path: (error: InputError) => (string | number)[], message = (error: InputError) => error.message): boolean => {
    try {
      check();
      return true;
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      problems.push({ path: path(error), message: message(error) });
      return false;
    }
  };
  attempt(() => checkCron(schedule.cron, schedule.timezone), (error) => (!objectForm ? ['schedule'] : ['schedule', error.field === 'timezone' ? 'timezone' : 'cron']));
  // The path names the parameter already: `schedule.parameters.start_date: unknown name …`.
  if (!attempt(() => checkScheduleTemplate(schedule.parameters), (error) => parameterPath(error.field), (error) => error.message.replace(/^parameters\.\w+:? /, ''))) return problems;
  for (const day of SAMPLE_TICK_DAYS) {
    const accepted = attempt(
      () => resolveRunParameters(pipeline, evaluateScheduleTemplate(schedule.parameters, { localDate: day }), day, maxRangeDays),
      (error) => parameterPath(error.field),
      (error) => `the run this schedule starts on ${day} would be refused: ${error.message}`,
    );
    if (!accepted) break;
  }
  return problems;
}

async function pipelineFiles(configsDir: string): Promise<string[]> {
  const entries = await readdir(configsDir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((file) => !NOT_PIPELINES.has(relative(configsDir, file).split(sep)[0] ?? ''))
    .sort();
}

function errorPath(error: ErrorObject): (string | number)[] {
  const path = error.instancePath.split('/').slice(1).map((part) => (/^\d+$/.test(part) ? Number(part) : part.replace(/~1/g, '/').replace(/~0/g, '~')));
  if (error.keyword === 'additionalProperties') path.push(String(error.params.additionalProperty));
  if (error.keyword === 'required') path.push(String(error.params.missingProperty));
  return path;
}

/**
 * A value failing a union (the schedule: a cron string or an object) fails every branch; the
 * errors inside the branch its type chose say what is wrong, the branches' type errors and
 * "must match a schema in anyOf" only add noise. Without such errors the union's own remains.
 */
function branchErrors(errors: ErrorObject[]): ErrorObject[] {
  const branchType = (error: ErrorObject) => /\/anyOf\/\d+\/(?:type|const)$/.test(error.schemaPath);
  return errors.filter((error) => {
    if (branchType(error)) return false;
    if (error.keyword !== 'anyOf') return true;
    return !errors.some((other) => other !== error && !branchType(other) && (other.instancePath.startsWith(`${error.instancePath}/`) || (other.instancePath === error.instancePath && other.keyword !== 'anyOf')));
  });
}

function describe(error: ErrorObject): string {
  switch (error.keyword) {
    case 'anyOf': {
      const branches = (error.parentSchema?.anyOf ?? []) as { type?: string; const?: unknown; description?: string }[];
      if (branches.length > 0 && branches.every((branch) => branch.const !== undefined)) return `must be one of ${branches.map((branch) => String(branch.const)).join(', ')}`;
      return `must be ${branches.map((branch) => branch.type === 'string' && branch.description ? `a string (${branch.description})` : branch.type === 'object' ? 'an object' : `a ${branch.type ?? 'value'}`).join(' or ')}`;
    }
    case 'additionalProperties':
      return 'unknown field';
    case 'required':
      return 'missing required field';
    case 'pattern':
      return `${error.message}${error.parentSchema?.description ? ` (${error.parentSchema.description})` : ''}`;
    default:
      return error.message ?? error.keyword;
  }
}

function formatPath(path: (string | number)[]): string {
  if (path.length === 0) return '(file)';
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');
}
