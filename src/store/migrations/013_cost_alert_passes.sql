-- When an org's cost alerts are next evaluated besides right after a load (issue 13;
-- docs/alerts.md). A charge day closes as time passes (the provider's lag, the settling time
-- after its last load), so an org is evaluated again once its last load has settled (due_at),
-- and once a day in any case (passed_on). A process takes an org's evaluation with a lease, so
-- processes share the orgs between them, and one whose process died is taken again after it.
CREATE TABLE cost_alert_passes (
  org_slug     text PRIMARY KEY REFERENCES organizations ON DELETE CASCADE,
  -- The UTC day whose daily evaluation completed last.
  passed_on    date,
  -- The settling time after the org's latest load of FOCUS rows ends here.
  due_at       timestamptz,
  lease_until  timestamptz
);
CREATE INDEX cost_alert_passes_due ON cost_alert_passes (due_at) WHERE due_at IS NOT NULL;
