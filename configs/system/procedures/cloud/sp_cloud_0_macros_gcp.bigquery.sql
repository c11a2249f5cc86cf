-- Functions of sp_cloud_1_convert_to_focus_gcp, BigQuery form of sp_cloud_0_macros_gcp.duckdb.sql:
-- persistent UDFs of the org dataset, created by cloud.billing_export (config `macros`) with the
-- staged tables, so the conversion, its reconciliation and the load report read the export alike.
-- The staged array columns are JSON text, as the contract's JSON columns are staged.

-- Array columns are JSON, or in BigQuery CSV extracts a Python literal ([{'key': 'a', 'value': None}]).
-- A value that is neither fails the conversion: silently dropped credits would overstate cost.
CREATE OR REPLACE FUNCTION {org_dataset}.gcp_json(x ANY TYPE) AS (
  CASE WHEN x IS NULL OR TRIM(x) = '' THEN '[]'
       WHEN SAFE.PARSE_JSON(x, wide_number_mode => 'round') IS NOT NULL THEN x
       ELSE COALESCE(
         CASE WHEN SAFE.PARSE_JSON(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(x, r"'((?:[^'\\]|\\.)*)'", r'"\1"'), r'\bNone\b', 'null'), r'\bTrue\b', 'true'), r'\bFalse\b', 'false'), wide_number_mode => 'round') IS NOT NULL
              THEN REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(REGEXP_REPLACE(x, r"'((?:[^'\\]|\\.)*)'", r'"\1"'), r'\bNone\b', 'null'), r'\bTrue\b', 'true'), r'\bFalse\b', 'false') END,
         ERROR(CONCAT('cannot read ', x, ' as a list'))) END
);

-- The credits, in their order, amounts at the 12 decimals DuckDB reads them with.
CREATE OR REPLACE FUNCTION {org_dataset}.gcp_credits(x ANY TYPE) AS (
  ARRAY(SELECT AS STRUCT JSON_VALUE(c, '$.name') AS name, CAST(JSON_VALUE(c, '$.amount') AS BIGNUMERIC(38, 12)) AS amount,
                         JSON_VALUE(c, '$.full_name') AS full_name, JSON_VALUE(c, '$.id') AS id, JSON_VALUE(c, '$.type') AS type
          FROM UNNEST(JSON_QUERY_ARRAY({org_dataset}.gcp_json(x))) AS c WITH OFFSET AS position ORDER BY position)
);

-- The export's BilledCost: cost plus its (negative) credits.
CREATE OR REPLACE FUNCTION {org_dataset}.gcp_billed(cost ANY TYPE, credits ANY TYPE) AS (
  CAST(CAST(cost AS BIGNUMERIC(38, 12)) + COALESCE((SELECT SUM(c.amount) FROM UNNEST({org_dataset}.gcp_credits(credits)) AS c), 0) AS NUMERIC)
);

-- key/value lists -> their entries with a key, in order.
CREATE OR REPLACE FUNCTION {org_dataset}.gcp_labels(x ANY TYPE) AS (
  ARRAY(SELECT AS STRUCT JSON_VALUE(e, '$.key') AS key, JSON_VALUE(e, '$.value') AS value
          FROM UNNEST(JSON_QUERY_ARRAY({org_dataset}.gcp_json(x))) AS e WITH OFFSET AS position
         WHERE JSON_VALUE(e, '$.key') IS NOT NULL ORDER BY position)
);

-- The row's tags: project labels, then tags, then labels, as DuckDB's conversion merges them with
-- json_merge_patch (RFC 7396): a later list's entry replaces an earlier one of its key, and
-- removes it when its value is null; the first list's null values stay. JSON text, null when empty.
CREATE OR REPLACE FUNCTION {org_dataset}.gcp_tags(project_labels ANY TYPE, tags ANY TYPE, labels ANY TYPE) AS ((
  SELECT CONCAT('{', STRING_AGG(CONCAT(TO_JSON_STRING(key), ':', COALESCE(TO_JSON_STRING(last.value), 'null')), ',' ORDER BY key), '}')
    FROM (SELECT key, ARRAY_AGG(STRUCT(list, value) ORDER BY list DESC, position DESC LIMIT 1)[OFFSET(0)] AS last
            FROM (SELECT 0 AS list, e.key, e.value, position FROM UNNEST({org_dataset}.gcp_labels(project_labels)) AS e WITH OFFSET AS position
                  UNION ALL SELECT 1, e.key, e.value, position FROM UNNEST({org_dataset}.gcp_labels(tags)) AS e WITH OFFSET AS position
                  UNION ALL SELECT 2, e.key, e.value, position FROM UNNEST({org_dataset}.gcp_labels(labels)) AS e WITH OFFSET AS position)
           GROUP BY key)
   WHERE last.list = 0 OR last.value IS NOT NULL
));
