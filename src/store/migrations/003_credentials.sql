-- Provider credentials of an org, envelope-encrypted: the secret under a per-credential data
-- key (AES-256-GCM), the data key wrapped by the master key named in key_ref (a local key
-- file, or Cloud KMS). The plaintext never reaches this table.
CREATE TABLE org_credentials (
  org_slug       text NOT NULL REFERENCES organizations ON DELETE CASCADE,
  provider       text NOT NULL,
  credential_id  text NOT NULL,
  version        integer NOT NULL DEFAULT 1,
  key_ref        text NOT NULL,
  wrapped_key    text NOT NULL,
  iv             text NOT NULL,
  ciphertext     text NOT NULL,
  auth_tag       text NOT NULL,
  metadata       jsonb NOT NULL DEFAULT '{}',
  created_at     timestamptz NOT NULL DEFAULT now(),
  rotated_at     timestamptz,
  PRIMARY KEY (org_slug, provider, credential_id)
);
