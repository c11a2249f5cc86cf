-- Procedures registered in the warehouse (issue 15, item 5; docs/procedures.md): per warehouse
-- dialect, the SQL text runs use for a procedure, in place of its file. On BigQuery the procedure
-- is also created in the organizations dataset; DuckDB has no stored procedures, so there this
-- row is the registration.
CREATE TABLE procedures (
  dialect       text NOT NULL CHECK (dialect IN ('duckdb', 'bigquery')),
  -- As the procedures API's name (src/procedures/procedure-name.ts).
  name          text NOT NULL CHECK (name ~ '^sp_[a-z][a-z0-9_]{0,124}$'),
  sql           text NOT NULL,
  -- sha256 of sql, hex: what a sync compares with the file's.
  content_hash  text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
  -- The file under configs/system/procedures it was synced from; NULL when registered through the API or CLI.
  source_file   text,
  registered_at timestamptz NOT NULL,
  -- When it was last registered in the warehouse (a forced sync of unchanged text too).
  synced_at     timestamptz NOT NULL,
  PRIMARY KEY (dialect, name)
);
