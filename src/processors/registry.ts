import type { Processor } from './types.ts';

/** Processors by `ps_type`. New providers register here; the engine only knows this interface. */
export interface ProcessorRegistry {
  get(type: string): Processor | undefined;
  types(): string[];
}

export function processorRegistry(processors: Processor[]): ProcessorRegistry {
  const byType = new Map<string, Processor>();
  for (const processor of processors) {
    if (byType.has(processor.type)) throw new Error(`Processor ${processor.type} is registered twice`);
    byType.set(processor.type, processor);
  }
  return {
    get: (type) => byType.get(type),
    types: () => [...byType.keys()].sort(),
  };
}
