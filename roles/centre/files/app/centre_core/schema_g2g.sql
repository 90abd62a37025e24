-- Data sharing between agencies (G2G, issue 16): what this agency asked of others and what others asked of it.
CREATE TABLE IF NOT EXISTS g2g_log (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL,
  side text NOT NULL CHECK (side IN ('asked', 'answered')),  -- asked: our step asked a peer; answered: a peer asked us
  peer text NOT NULL,                     -- the other agency (as its certificate names it, or as it claimed)
  service text NOT NULL,
  purpose text NOT NULL,
  reference text NOT NULL,                -- the asking application's reference (the asker's, on both sides)
  application_id bigint REFERENCES applications,  -- ours: the asking application, or the record that was read
  subject_hmac text NOT NULL,             -- HMAC of the identifier asked about (the log keeps no identifier)
  consent boolean NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('answered', 'refused', 'failed')),
  reason text,                            -- why refused or failed (a short code)
  found boolean,
  nonce text
);
CREATE INDEX IF NOT EXISTS g2g_log_reference ON g2g_log (reference);
CREATE INDEX IF NOT EXISTS g2g_log_application ON g2g_log (application_id) WHERE application_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS g2g_nonces (   -- requests seen, until they expire: a replay is refused
  issuer text NOT NULL,
  nonce text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (issuer, nonce)
);
CREATE INDEX IF NOT EXISTS g2g_nonces_expiry ON g2g_nonces (expires_at);

-- The declared queries (`answers @> {match: identifier}` over closed applications) find their record by this index.
CREATE INDEX IF NOT EXISTS applications_closed_answers ON applications USING gin (answers jsonb_path_ops)
  WHERE status = 'closed';
