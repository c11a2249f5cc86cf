-- Cost alerts (issue 13, item 4; docs/alerts.md). Rules are an org's; alerts are what the rules
-- found on closed charge days, one row per (rule, group, basis, period), with their lifecycle.
-- Every change of an alert is written in the transaction that writes its outbox event
-- (notification_events of migration 008).
CREATE TABLE cost_alert_rules (
  org_slug     text NOT NULL REFERENCES organizations ON DELETE CASCADE,
  rule_id      uuid NOT NULL DEFAULT gen_random_uuid(),
  name         text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('daily_threshold', 'day_over_day', 'monthly_budget', 'anomaly')),
  is_enabled   boolean NOT NULL DEFAULT true,
  -- Amounts are in this billing currency; rows billed in another are not the rule's.
  currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  cost_column  text NOT NULL CHECK (cost_column IN ('EffectiveCost', 'BilledCost')),
  -- { providers?, services?, sub_accounts?, tags? } as src/alerts/rule-spec.ts checks it.
  scope        jsonb NOT NULL DEFAULT '{}',
  group_by     text CHECK (group_by IN ('service', 'sub_account', 'provider')),
  -- The kind's own settings (thresholds, budget, floors).
  params       jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_slug, rule_id),
  UNIQUE (org_slug, name)
);

CREATE TABLE cost_alerts (
  org_slug      text NOT NULL,
  alert_id      uuid NOT NULL DEFAULT gen_random_uuid(),
  rule_id       uuid NOT NULL,
  -- The group's value (a ServiceName, SubAccountId or provider) for a rule with group_by; '' without.
  group_key     text NOT NULL DEFAULT '',
  -- A budget has two: month-to-date spend (actual) and its month-end forecast.
  basis         text NOT NULL DEFAULT 'actual' CHECK (basis IN ('actual', 'forecast')),
  -- Daily kinds: the first and the latest charge day over the threshold; budgets: the month.
  period_start  date NOT NULL,
  period_end    date NOT NULL CHECK (period_end >= period_start),
  status        text NOT NULL CHECK (status IN ('open', 'resolved')),
  -- How many of the rule's thresholds the alert has crossed (its highest so far).
  level         integer NOT NULL CHECK (level >= 1),
  -- The judged charge day on which the condition was found cleared.
  resolved_day  date,
  resolution    text CHECK (resolution IN ('cleared', 'period_ended', 'rule_changed', 'rule_disabled')),
  -- The latest measurement: amounts, threshold, statistic, top contributors (as in the event).
  details       jsonb NOT NULL,
  opened_at     timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  resolved_at   timestamptz,
  PRIMARY KEY (org_slug, alert_id),
  FOREIGN KEY (org_slug, rule_id) REFERENCES cost_alert_rules ON DELETE CASCADE
);
-- An alert fires once per rule, group, basis and period ...
CREATE UNIQUE INDEX cost_alerts_period ON cost_alerts (org_slug, rule_id, group_key, basis, period_start);
-- ... and a rule's group has at most one open alert of each basis.
CREATE UNIQUE INDEX cost_alerts_one_open ON cost_alerts (org_slug, rule_id, group_key, basis) WHERE status = 'open';
CREATE INDEX cost_alerts_history ON cost_alerts (org_slug, opened_at DESC, alert_id DESC);
