-- sp_demo_1_generate_usage, BigQuery form of the .duckdb.sql beside it: deterministic synthetic
-- usage, one row per day x team x service. The same run date always gives the same quantities
-- (a fingerprint of the key), so a re-run writes identical rows. Parameters: @start_date,
-- @end_date (the run's range), @teams (1-26).
-- Deliberate difference: BigQuery has no DuckDB hash(), so the quantities come from
-- FARM_FINGERPRINT: the same days, teams, services and prices, other (equally stable) quantities.
SELECT usage_date,
       teams.team,
       services.service,
       CAST(1 + MOD(ABS(MOD(FARM_FINGERPRINT(CONCAT(CAST(usage_date AS STRING), teams.team, services.service)), 100000)), 100000) / 100 AS NUMERIC) AS usage_quantity,
       services.unit_price
  FROM UNNEST(GENERATE_DATE_ARRAY(CAST(@start_date AS DATE), CAST(@end_date AS DATE))) AS usage_date
 CROSS JOIN (SELECT CONCAT('team_', CODE_POINTS_TO_STRING([96 + i])) AS team FROM UNNEST(GENERATE_ARRAY(1, LEAST(GREATEST(CAST(@teams AS INT64), 1), 26))) AS i) AS teams
 CROSS JOIN UNNEST(ARRAY<STRUCT<service STRING, unit_price NUMERIC>>[('compute', 0.045), ('storage', 0.020), ('egress', 0.090)]) AS services
