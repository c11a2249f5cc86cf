-- Macros of sp_cloud_1_convert_to_focus_aws, created in the org dataset by cloud.billing_export
-- (config `macros`) with the staged views, so the conversion, its reconciliation and the load
-- report read the export the same way.

-- ARN or bare id -> resource type: `arn:aws:ec2:...:instance/i-1` -> instance, `i-1` -> instance.
-- `resource` is the ARN's sixth part (`instance/i-1`), computed once per row by the caller;
-- string functions, not regular expressions, as this runs on every row.
CREATE OR REPLACE MACRO {org_dataset}.aws_resource_type(id, resource, product_code, family) AS
  CASE
    WHEN id IS NULL THEN NULL
    WHEN starts_with(id, 'arn:') THEN CASE
      WHEN contains(resource, '/') THEN split_part(resource, '/', 1)
      WHEN split_part(id, ':', 7) <> '' THEN resource
      WHEN split_part(id, ':', 3) = 's3' THEN 'bucket'
      ELSE split_part(id, ':', 3) END
    ELSE coalesce(
      CASE split_part(id, '-', 1)
        WHEN 'i' THEN 'instance' WHEN 'vol' THEN 'volume' WHEN 'snap' THEN 'snapshot' WHEN 'ami' THEN 'image'
        WHEN 'eni' THEN 'network-interface' WHEN 'nat' THEN 'natgateway' WHEN 'vpc' THEN 'vpc' WHEN 'subnet' THEN 'subnet'
        WHEN 'sg' THEN 'security-group' WHEN 'eipalloc' THEN 'elastic-ip' WHEN 'igw' THEN 'internet-gateway'
        WHEN 'tgw' THEN 'transit-gateway' WHEN 'vpce' THEN 'vpc-endpoint' WHEN 'fs' THEN 'file-system' END,
      CASE WHEN product_code = 'AmazonS3' THEN 'bucket' END,
      lower(family),
      product_code)
  END;
