import type { Processor } from '../types.ts';
import { billingExport } from './billing-export.ts';
import { loadReport } from './load-report.ts';

/** The cloud billing processors: staging an export, then reporting what its conversion changed. */
export function cloudProcessors(): Processor[] {
  return [billingExport, loadReport] as Processor[];
}
