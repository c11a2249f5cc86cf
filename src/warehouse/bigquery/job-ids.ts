import { createHash } from 'node:crypto';

/**
 * Job ids derived from what the job does, so that sending the same job twice (a response lost
 * on the way back, a retried request) is refused by BigQuery as a duplicate (409) instead of
 * running twice. The parts name the org, the run, the step, the table and the attempt (the
 * lineage's ingestion time, which each attempt of a step sets anew), plus the write's place in
 * this process's sequence of writes of that attempt and the try of the job: a job that failed
 * is tried again under the next try number, since a job id can be used once only.
 */
export function jobId(kind: string, parts: readonly (string | number | undefined)[], tryNumber: number): string {
  const digest = createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
  const org = typeof parts[0] === 'string' ? labelValue(parts[0]).slice(0, 40) : 'service';
  return `finops_${org}_${kind}_${digest}_t${tryNumber}`;
}

/** A table name for a write's intermediate rows, stable across tries of the same write. */
export function scratchTableName(kind: 'staging' | 'staged', parts: readonly (string | number | undefined)[]): string {
  return `_${kind}_${createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 24)}`;
}

/**
 * A job label value: lowercase letters, digits, `_` and `-`, at most 63 characters (BigQuery's
 * label rules). Anything else becomes `_`; a longer value keeps its start and a hash of the rest,
 * so two long run ids stay distinct.
 */
export function labelValue(value: string): string {
  const safe = value.toLowerCase().replace(/[^a-z0-9_-]/g, '_');
  if (safe.length <= 63) return safe;
  return `${safe.slice(0, 54)}_${createHash('sha256').update(value).digest('hex').slice(0, 8)}`;
}

export interface JobLabels {
  org?: string | undefined;
  pipeline?: string | undefined;
  run?: string | undefined;
  step?: string | undefined;
}

export function jobLabels(labels: JobLabels): Record<string, string> {
  const out: Record<string, string> = { app: 'finops_pipeline' };
  for (const [key, value] of Object.entries(labels)) if (value) out[key] = labelValue(value);
  return out;
}
