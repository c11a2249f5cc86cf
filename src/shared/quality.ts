/** One data-quality finding: a FOCUS rule's outcome, a reconciliation, a processor warning. */
export interface QualityResult {
  /** `focus_rule`, `reconciliation`, or a processor's own kind. */
  check_kind: string;
  rule_id: string;
  level: 'MUST' | 'SHOULD' | 'INFO';
  status: 'pass' | 'fail' | 'skipped' | 'warn';
  description: string;
  failing_rows: number;
  /** Example failing rows, totals compared, the reason a rule was skipped. */
  details?: Record<string, unknown>;
}
