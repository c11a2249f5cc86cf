import type { PipelineConfig } from './config-schema.ts';

/** Loaded pipelines by route (`{provider}/{domain}/{pipeline}`). */
export interface PipelineRegistry {
  get(route: string): PipelineConfig | undefined;
  list(provider?: string): PipelineConfig[];
}

export function pipelineRegistry(pipelines: PipelineConfig[]): PipelineRegistry {
  const byRoute = new Map(pipelines.map((pipeline) => [pipeline.route, pipeline]));
  const sorted = [...byRoute.values()].sort((a, b) => a.route.localeCompare(b.route));
  return {
    get: (route) => byRoute.get(route),
    list: (provider) => (provider ? sorted.filter((pipeline) => pipeline.route.split('/')[0] === provider) : sorted),
  };
}
