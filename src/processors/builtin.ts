import { apiProcessors } from './genai/api-processors.ts';
import { cloudProcessors } from './cloud/cloud-processors.ts';
import { procedureExecutor } from './generic/procedure-executor.ts';
import { localBqTransformer } from './generic/local-bq-transformer.ts';
import { processorRegistry, type ProcessorRegistry } from './registry.ts';
import type { Processor } from './types.ts';

/** Every processor the service ships, by `ps_type`. */
export function builtinProcessors(): ProcessorRegistry {
  return processorRegistry([localBqTransformer, procedureExecutor, ...apiProcessors(), ...cloudProcessors()] as Processor[]);
}
