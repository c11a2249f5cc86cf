-- Functions of sp_cloud_1_convert_to_focus_aws, BigQuery form of sp_cloud_0_macros_aws.duckdb.sql:
-- persistent UDFs of the org dataset, created by cloud.billing_export (config `macros`) with the
-- staged tables, so the conversion, its reconciliation and the load report read the export alike.

-- ARN or bare id -> resource type: `arn:aws:ec2:...:instance/i-1` -> instance, `i-1` -> instance.
-- `resource` is the ARN's sixth part (`instance/i-1`), computed once per row by the caller;
-- string functions, not regular expressions, as this runs on every row. split_part is DuckDB's
-- (sp_cloud_0_macros_focus).
CREATE OR REPLACE FUNCTION {org_dataset}.aws_resource_type(id ANY TYPE, resource ANY TYPE, product_code ANY TYPE, family ANY TYPE) AS (
  CASE
    WHEN id IS NULL THEN NULL
    WHEN STARTS_WITH(id, 'arn:') THEN CASE
      WHEN STRPOS(resource, '/') > 0 THEN {org_dataset}.split_part(resource, '/', 1)
      WHEN {org_dataset}.split_part(id, ':', 7) <> '' THEN resource
      WHEN {org_dataset}.split_part(id, ':', 3) = 's3' THEN 'bucket'
      ELSE {org_dataset}.split_part(id, ':', 3) END
    ELSE COALESCE(
      CASE {org_dataset}.split_part(id, '-', 1)
        WHEN 'i' THEN 'instance' WHEN 'vol' THEN 'volume' WHEN 'snap' THEN 'snapshot' WHEN 'ami' THEN 'image'
        WHEN 'eni' THEN 'network-interface' WHEN 'nat' THEN 'natgateway' WHEN 'vpc' THEN 'vpc' WHEN 'subnet' THEN 'subnet'
        WHEN 'sg' THEN 'security-group' WHEN 'eipalloc' THEN 'elastic-ip' WHEN 'igw' THEN 'internet-gateway'
        WHEN 'tgw' THEN 'transit-gateway' WHEN 'vpce' THEN 'vpc-endpoint' WHEN 'fs' THEN 'file-system' END,
      CASE WHEN product_code = 'AmazonS3' THEN 'bucket' END,
      LOWER(family),
      product_code)
  END
);
