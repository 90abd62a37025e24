-- Issue 16, item 1: the signed certificates of applications closed with an issuing outcome (certificates.py).
-- One per application; the signed PDF is in the agency's bucket (object_key) or, for a centre without one, here.
CREATE TABLE IF NOT EXISTS certificates (
  id text PRIMARY KEY CHECK (id ~ '^[0-9a-hjkmnp-tv-z]{20}$'),
  application_id bigint NOT NULL UNIQUE REFERENCES applications,
  service_id text NOT NULL,
  outcome text NOT NULL,
  issued_at timestamptz NOT NULL,
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size integer NOT NULL,
  object_key text,
  pdf bytea,
  revoked_at timestamptz,
  revoked_by text,
  revocation_reason text,
  CHECK (object_key IS NOT NULL OR pdf IS NOT NULL),
  CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL))
);
