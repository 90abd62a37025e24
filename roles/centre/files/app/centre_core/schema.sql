-- The centre's tables in the agency's database (one schema version; store.migrate applies it once).
CREATE TABLE IF NOT EXISTS centre_schema (version integer NOT NULL);

CREATE TABLE IF NOT EXISTS process_versions (
  id bigserial PRIMARY KEY,
  service_id text NOT NULL,
  process_id text NOT NULL,
  digest text NOT NULL UNIQUE,          -- sha256 of the BPMN file: its version
  bpmn bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS applications (
  id bigserial PRIMARY KEY,
  reference text NOT NULL UNIQUE CHECK (reference ~ '^[0-9A-HJKMNP-TV-Z]{12}$'),
  service_id text NOT NULL,
  process_version_id bigint NOT NULL REFERENCES process_versions,
  status text NOT NULL CHECK (status IN ('in_progress', 'action_needed', 'closed')),
  outcome text,
  answers jsonb NOT NULL,
  email text,
  submitted_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS applications_service_status ON applications (service_id, status);

CREATE TABLE IF NOT EXISTS workflow_states (
  application_id bigint PRIMARY KEY REFERENCES applications,
  state text NOT NULL,                  -- SpiffWorkflow's JSON, spec included: text, as jsonb reorders keys
                                        -- and the restored task tree depends on their order
  next_timer timestamptz,               -- the earliest armed SLA timer, for the periodic job
  updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS workflow_states_next_timer ON workflow_states (next_timer) WHERE next_timer IS NOT NULL;

CREATE TABLE IF NOT EXISTS tasks (      -- a projection of the workflow's ready user tasks: the desks' inboxes
  id uuid PRIMARY KEY,
  application_id bigint NOT NULL REFERENCES applications,
  step text NOT NULL,
  name text NOT NULL,
  desk text NOT NULL,
  actions text[] NOT NULL,
  state text NOT NULL CHECK (state IN ('ready', 'done', 'cancelled')),
  created_at timestamptz NOT NULL,
  finished_at timestamptz,
  finished_by text,
  action text
);
CREATE INDEX IF NOT EXISTS tasks_inbox ON tasks (desk, created_at) WHERE state = 'ready';
CREATE INDEX IF NOT EXISTS tasks_application ON tasks (application_id);

CREATE TABLE IF NOT EXISTS tracking_codes (
  id bigserial PRIMARY KEY,
  application_id bigint NOT NULL REFERENCES applications,
  digest text NOT NULL,                 -- HMAC of the code: the code itself is never stored
  expires_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  used_at timestamptz,
  created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS tracking_codes_application ON tracking_codes (application_id, created_at DESC);

CREATE TABLE IF NOT EXISTS tracking_clients (  -- lookups per client and window (throttle.py)
  client text PRIMARY KEY,              -- HMAC of the client's address: the address itself is never stored
  window_start timestamptz NOT NULL,
  attempts integer NOT NULL
);

CREATE TABLE IF NOT EXISTS drafts (     -- "save and come back later" (drafts.py): answers under a link
  token_digest text PRIMARY KEY,        -- sha256 of the link's token: the token itself is never stored
  service_id text NOT NULL,
  answers jsonb NOT NULL,
  saved_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS drafts_expires ON drafts (expires_at);

CREATE TABLE IF NOT EXISTS documents (  -- a citizen's uploads (documents.py), kept in the agency's bucket
  id bigserial PRIMARY KEY,
  application_id bigint NOT NULL REFERENCES applications,
  document text NOT NULL,               -- the catalogue's document id (e.g. owner_cnic)
  filename text NOT NULL,               -- the citizen's file name, cleaned: shown, never used as a path
  media_type text NOT NULL CHECK (media_type IN ('application/pdf', 'image/jpeg', 'image/png')),
  size bigint NOT NULL CHECK (size > 0),
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  object_key text NOT NULL UNIQUE,      -- centre/applications/<reference>/...
  uploaded_at timestamptz NOT NULL,
  uploaded_by text NOT NULL,            -- citizen (applying, or the citizen's task)
  archived_key text,                    -- centre/archive/<retention>/... once the application closed
  archived_at timestamptz
);
CREATE INDEX IF NOT EXISTS documents_application ON documents (application_id, id);
CREATE INDEX IF NOT EXISTS documents_to_archive ON documents (application_id) WHERE archived_key IS NULL;
CREATE TABLE IF NOT EXISTS ratings (   -- a citizen's satisfaction with a closed application (grievances)
  application_id bigint PRIMARY KEY REFERENCES applications,
  rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
  rated_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS audit (      -- append-only, hash-chained (audit.py); text columns hash exactly
  seq bigint PRIMARY KEY,
  at text NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  subject text NOT NULL,
  details text NOT NULL,
  document_sha256 text,
  prev_hash text NOT NULL,
  hash text NOT NULL UNIQUE
);

CREATE INDEX IF NOT EXISTS audit_subject ON audit (subject, seq);  -- an application's history

CREATE OR REPLACE FUNCTION centre_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit trail is append-only: % is refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER IF EXISTS audit_append_only ON audit;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION centre_audit_append_only();
DROP TRIGGER IF EXISTS audit_no_truncate ON audit;
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
  FOR EACH STATEMENT EXECUTE FUNCTION centre_audit_append_only();

-- The staff pages (desks.py, desk_store.py): who holds a task, who works at which desk, history by reference.
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS assigned_to text;  -- the staff member's subject; NULL: the whole desk
CREATE TABLE IF NOT EXISTS staff_members (  -- staff as their last sign-in to the staff pages saw them
  subject text PRIMARY KEY,
  name text NOT NULL,
  desks text[] NOT NULL,
  seen_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_subject ON audit (subject, seq);

-- Notifications (outbox.py): mail to the applicant, queued in the same transaction as the change it tells of and
-- delivered by the timers' job (centre_run_timers), with retries and a dead-letter state.
ALTER TABLE applications ADD COLUMN IF NOT EXISTS language text NOT NULL DEFAULT 'en';  -- the citizen's: en | ur
CREATE TABLE IF NOT EXISTS outbox (
  id bigserial PRIMARY KEY,
  application_id bigint NOT NULL REFERENCES applications,
  kind text NOT NULL,                   -- submitted | returned | closed | code
  language text NOT NULL,
  params jsonb NOT NULL,                -- what the message says; emptied once sent or dead (a mailed code goes)
  state text NOT NULL CHECK (state IN ('pending', 'sent', 'dead', 'off')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_error text,                      -- the SMTP reply's code, the SMS provider's HTTP status, or a class only
  created_at timestamptz NOT NULL,
  finished_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_application ON outbox (application_id, id);
CREATE TABLE IF NOT EXISTS code_requests (  -- "send me a code", per reference and per client (outbox.py)
  key text PRIMARY KEY,                 -- HMAC of "reference:<ref>" or "client:<address>": neither is stored
  window_start timestamptz NOT NULL,
  attempts integer NOT NULL
);

-- Retention (retention.py, retention_store.py): an archived document deleted from the bucket when its class's
-- years since the application closed are over; the row stays (what it was), `deleted_at` says it is gone.
ALTER TABLE documents ADD COLUMN IF NOT EXISTS deleted_at timestamptz;
CREATE INDEX IF NOT EXISTS documents_to_delete ON documents (application_id)
  WHERE archived_key IS NOT NULL AND deleted_at IS NULL;

-- Text messages (outbox.py, centre_web/texter.py): the applicant's mobile number (E.164) and each message's channel.
ALTER TABLE applications ADD COLUMN IF NOT EXISTS mobile text CHECK (mobile ~ '^\+[1-9][0-9]{7,14}$');
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS channel text NOT NULL DEFAULT 'email' CHECK (channel IN ('email', 'sms'));
DROP INDEX IF EXISTS outbox_due;
CREATE INDEX IF NOT EXISTS outbox_due_channel ON outbox (channel, next_attempt_at, id) WHERE state = 'pending';

-- Retention of the answers and contact addresses (retention_store.erase): a closed application past its service's
-- retention keeps its reference, status, outcome, tasks and audit entries; its answers, e-mail and mobile number go.
ALTER TABLE applications ADD COLUMN IF NOT EXISTS erased_at timestamptz;
CREATE INDEX IF NOT EXISTS applications_to_erase ON applications (updated_at, id)
  WHERE status = 'closed' AND erased_at IS NULL;
-- A legal hold (retention_store.hold / release): retention deletes nothing of a held application until released.
ALTER TABLE applications ADD COLUMN IF NOT EXISTS held_since timestamptz;
