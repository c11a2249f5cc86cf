-- sp_demo_1_generate_usage: deterministic synthetic usage, one row per day x team x service.
-- The same run date always gives the same quantities (hash of the key), so a re-run writes
-- identical rows. Parameters: $start_date, $end_date (the run's range), $teams (1-26).
SELECT CAST(days.d AS DATE) AS usage_date,
       teams.team,
       services.service,
       CAST(1 + hash(CAST(days.d AS DATE)::VARCHAR || teams.team || services.service) % 100000 / 100.0 AS DECIMAL(38, 9)) AS usage_quantity,
       CAST(services.unit_price AS DECIMAL(38, 9)) AS unit_price
  FROM generate_series(CAST($start_date AS DATE), CAST($end_date AS DATE), INTERVAL 1 DAY) AS days(d)
 CROSS JOIN (SELECT 'team_' || chr(CAST(96 + i AS INTEGER)) AS team FROM range(1, least(greatest(CAST($teams AS INTEGER), 1), 26) + 1) AS t(i)) AS teams
 CROSS JOIN (VALUES ('compute', 0.045), ('storage', 0.020), ('egress', 0.090)) AS services(service, unit_price)
