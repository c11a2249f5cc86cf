import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { CronExpressionParser } from 'cron-parser';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { planProblems } from '../engine/plan.ts';
import type { ProcessorRegistry } from '../processors/registry.ts';
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

/** Loads and validates every pipeline YAML, collecting all problems instead of stopping at the first. */
export async function loadPipelineConfigs(configsDir: string, processors: ProcessorRegistry): Promise<{ pipelines: PipelineConfig[]; problems: ConfigProblem[] }> {
  const ajv = new Ajv({ allErrors: true, strict: false });
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
      for (const error of validateFile.errors ?? []) report(errorPath(error), describe(error));
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
      if (!validate(step.config ?? {})) for (const error of validate.errors ?? []) fail(['steps', i, 'config', ...errorPath(error)], describe(error));
    });
    for (const problem of planProblems(content.steps)) fail(problem.path.split(/[.[\]]/).filter(Boolean).map((part) => (/^\d+$/.test(part) ? Number(part) : part)), problem.message);
    if (content.schedule !== undefined) {
      try {
        CronExpressionParser.parse(content.schedule, { tz: 'UTC' });
      } catch (error) {
        fail(['schedule'], `not a valid cron expression: ${(error as Error).message}`);
      }
    }
    if (valid && other === undefined) pipelines.push({ ...content, route, file: name });
  }
  return { pipelines, problems };
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

function describe(error: ErrorObject): string {
  switch (error.keyword) {
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
