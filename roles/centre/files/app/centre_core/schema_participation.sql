-- E-participation (participation.py, participation_store.py) and the open data published on a schedule
-- (publishing: participation results, transparency figures). Idempotent: store.migrate applies it every time.
CREATE TABLE IF NOT EXISTS consultations (
  id bigserial PRIMARY KEY,
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$'),
  title_en text NOT NULL,
  title_ur text NOT NULL,
  opens_on date NOT NULL,
  closes_on date NOT NULL CHECK (closes_on >= opens_on),
  created_at timestamptz NOT NULL,
  created_by text NOT NULL
);
CREATE TABLE IF NOT EXISTS consultation_paragraphs (
  consultation_id bigint NOT NULL REFERENCES consultations,
  n integer NOT NULL CHECK (n >= 1),
  text_en text NOT NULL,
  text_ur text NOT NULL,
  PRIMARY KEY (consultation_id, n)
);
CREATE TABLE IF NOT EXISTS consultation_comments (
  id bigserial PRIMARY KEY,
  consultation_id bigint NOT NULL,
  paragraph integer NOT NULL,
  text text NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
  language text NOT NULL CHECK (language IN ('en', 'ur')),
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
  created_at timestamptz NOT NULL,
  moderated_at timestamptz,
  moderated_by text,
  FOREIGN KEY (consultation_id, paragraph) REFERENCES consultation_paragraphs
);
CREATE INDEX IF NOT EXISTS consultation_comments_paragraph ON consultation_comments (consultation_id, paragraph, state);
CREATE INDEX IF NOT EXISTS consultation_comments_pending ON consultation_comments (created_at) WHERE state = 'pending';

CREATE TABLE IF NOT EXISTS polls (
  id bigserial PRIMARY KEY,
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$'),
  question_en text NOT NULL,
  question_ur text NOT NULL,
  opens_on date NOT NULL,
  closes_on date NOT NULL CHECK (closes_on >= opens_on),
  created_at timestamptz NOT NULL,
  created_by text NOT NULL
);
CREATE TABLE IF NOT EXISTS poll_options (
  poll_id bigint NOT NULL REFERENCES polls,
  n integer NOT NULL CHECK (n BETWEEN 1 AND 10),
  label_en text NOT NULL,
  label_ur text NOT NULL,
  PRIMARY KEY (poll_id, n)
);
CREATE TABLE IF NOT EXISTS poll_votes (  -- one per poll and browser: the voter is an HMAC of its cookie's token
  poll_id bigint NOT NULL,
  voter text NOT NULL CHECK (voter ~ '^[0-9a-f]{64}$'),
  option integer NOT NULL,
  voted_at timestamptz NOT NULL,
  PRIMARY KEY (poll_id, voter),
  FOREIGN KEY (poll_id, option) REFERENCES poll_options
);

CREATE TABLE IF NOT EXISTS proposals (
  id bigserial PRIMARY KEY,
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 150),
  text text NOT NULL CHECK (length(text) BETWEEN 1 AND 4000),
  language text NOT NULL CHECK (language IN ('en', 'ur')),
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
  created_at timestamptz NOT NULL,
  moderated_at timestamptz,
  moderated_by text
);
CREATE INDEX IF NOT EXISTS proposals_state ON proposals (state, created_at);
CREATE TABLE IF NOT EXISTS proposal_supports (
  proposal_id bigint NOT NULL REFERENCES proposals,
  voter text NOT NULL CHECK (voter ~ '^[0-9a-f]{64}$'),
  supported_at timestamptz NOT NULL,
  PRIMARY KEY (proposal_id, voter)
);

CREATE TABLE IF NOT EXISTS participation_clients (  -- the throttle's windows (throttle.py) for comments, votes...
  client text PRIMARY KEY,              -- HMAC of the client's address: the address itself is never stored
  window_start timestamptz NOT NULL,
  attempts integer NOT NULL
);

CREATE TABLE IF NOT EXISTS open_data_rounds (  -- when each part of the scheduled open data was last published
  part text PRIMARY KEY,                -- participation | transparency
  published_at timestamptz NOT NULL,
  day date NOT NULL                     -- the agency's day it covered up to
);
