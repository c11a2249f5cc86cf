/**
 * When a charge day counts (docs/alerts.md, "Closed charge days"). A day is judged only once
 * every load stream that feeds the rule has finished with it; these are the numbers that say so.
 */
export interface ClosedDayPolicy {
  /**
   * Hours after the end of a charge day (UTC) before its provider's data for it is complete: a
   * load that ran earlier wrote a half-loaded day, which stays open until a later load rewrites it.
   */
  lagHours: Readonly<Record<string, number>>;
  /** For an x_SourceSystem not in lagHours. */
  defaultLagHours: number;
  /** Hours with no load touching a day before it is settled (a load whose run the control plane does not show, a restatement in several writes). */
  settleHours: number;
}

/**
 * The providers' own delays, as defaults an operator can override (evaluateAlerts' policy).
 * AWS CUR, GCP's billing export and OCI's cost reports are refreshed several times a day and
 * hold a day's charges by the end of the next; Azure's cost details are the slowest of the
 * clouds to fill a day, so they get two. The OpenAI and Anthropic admin reports and DeepSeek's
 * balance are near-live, so a few hours cover their late buckets; Gemini's token counts come
 * from Cloud Monitoring, whose metrics can arrive late; a SaaS subscription's daily cost is
 * computed from its plan and is complete when it is written.
 */
export const BILLING_LAG_HOURS: Readonly<Record<string, number>> = {
  aws: 24,
  gcp: 24,
  azure: 48,
  oci: 24,
  openai: 6,
  anthropic: 6,
  deepseek: 6,
  gemini: 24,
  subscription: 0,
};

export const DEFAULT_CLOSED_DAY_POLICY: ClosedDayPolicy = { lagHours: BILLING_LAG_HOURS, defaultLagHours: 24, settleHours: 2 };

/** A load stream (pipeline, credential) with rows in a rule's scope within this many days before a charge day is waited for on that day; one quiet for longer is not. */
export const RELEVANCE_DAYS = 7;
/** The closed days judged at each evaluation: the latest closed day and the days before it, up to this many. */
export const JUDGED_DAYS = 7;
/** A closed day older than this many days before today is history only, never judged (a backfill of last year does not alert). */
export const MAX_JUDGED_AGE_DAYS = 14;
/**
 * Days of FOCUS rows an evaluation reads: judged days (up to MAX_JUDGED_AGE_DAYS back) with the
 * anomaly's 28 days of history before them, and a budget month's start with the same days of
 * the month before it (for its contributors).
 */
export const SCAN_DAYS = 80;
/** A month-end forecast is made from this many closed days of the month at least. */
export const MIN_FORECAST_DAYS = 3;
/** The forecast's run rate: the mean of the month's last closed days, up to this many. */
export const FORECAST_RATE_DAYS = 7;

export function closedDayPolicy(overrides: Partial<ClosedDayPolicy> = {}): ClosedDayPolicy {
  return { ...DEFAULT_CLOSED_DAY_POLICY, ...overrides, lagHours: { ...DEFAULT_CLOSED_DAY_POLICY.lagHours, ...overrides.lagHours } };
}
