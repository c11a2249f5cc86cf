import { apiProcessors } from './genai/api-processors.ts';
import { cloudProcessors } from './cloud/cloud-processors.ts';
import { procedureExecutor } from './generic/procedure-executor.ts';
import { localBqTransformer } from './generic/local-bq-transformer.ts';
import type { HttpMetrics } from '../shared/metrics.ts';
import { processorRegistry, type ProcessorRegistry } from './registry.ts';
import type { Processor } from './types.ts';

/** Every processor the service ships, by `ps_type`; `metrics` counts the provider API requests of this process. */
export function builtinProcessors(options: { metrics?: HttpMetrics } = {}): ProcessorRegistry {
  return processorRegistry([localBqTransformer, procedureExecutor, ...apiProcessors(options), ...cloudProcessors()] as Processor[]);
}
