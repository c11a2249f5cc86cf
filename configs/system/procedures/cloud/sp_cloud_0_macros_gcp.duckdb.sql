-- Macros of sp_cloud_1_convert_to_focus_gcp, created in the org dataset by cloud.billing_export
-- (config `macros`) with the staged views, so the conversion, its reconciliation and the load
-- report read the export the same way.

-- Array columns are JSON, or in BigQuery CSV extracts a Python literal ([{'key': 'a', 'value': None}]).
-- A value that is neither fails the conversion: silently dropped credits would overstate cost.
CREATE OR REPLACE MACRO {org_dataset}.gcp_json(x) AS
  CASE WHEN x IS NULL OR trim(x) = '' THEN '[]'
       WHEN json_valid(x) THEN x
       ELSE coalesce(
         CASE WHEN json_valid(regexp_replace(regexp_replace(regexp_replace(regexp_replace(x, '''((?:[^''\\]|\\.)*)''', '"\1"', 'g'), '\bNone\b', 'null', 'g'), '\bTrue\b', 'true', 'g'), '\bFalse\b', 'false', 'g'))
              THEN regexp_replace(regexp_replace(regexp_replace(regexp_replace(x, '''((?:[^''\\]|\\.)*)''', '"\1"', 'g'), '\bNone\b', 'null', 'g'), '\bTrue\b', 'true', 'g'), '\bFalse\b', 'false', 'g') END,
         error('cannot read ' || x || ' as a list')) END;

CREATE OR REPLACE MACRO {org_dataset}.gcp_credits(x) AS
  from_json({org_dataset}.gcp_json(x), '[{"name": "VARCHAR", "amount": "DECIMAL(38, 12)", "full_name": "VARCHAR", "id": "VARCHAR", "type": "VARCHAR"}]');

-- The export's BilledCost: cost plus its (negative) credits.
CREATE OR REPLACE MACRO {org_dataset}.gcp_billed(cost, credits) AS
  CAST(CAST(cost AS DECIMAL(38, 12)) + coalesce(list_sum(list_transform({org_dataset}.gcp_credits(credits), c -> c.amount)), 0) AS DECIMAL(38, 9));

-- key/value lists -> one JSON object; null when empty.
CREATE OR REPLACE MACRO {org_dataset}.gcp_labels(x) AS
  to_json(map_from_entries(list_transform(list_filter(from_json({org_dataset}.gcp_json(x), '[{"key": "VARCHAR", "value": "VARCHAR"}]'), e -> e.key IS NOT NULL), e -> {'k': e.key, 'v': e.value})));
