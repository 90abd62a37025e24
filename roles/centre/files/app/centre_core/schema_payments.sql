-- E-payments (issue 16): bills paid by reference, their payments, the provider's notifications.
-- Applied after schema.sql by store.migrate on every deploy: idempotent.

CREATE TABLE IF NOT EXISTS bills (
  id bigserial PRIMARY KEY,
  bill_ref text NOT NULL UNIQUE CHECK (bill_ref ~ '^[0-9A-HJKMNP-TV-Z]{12}$'),
  application_id bigint NOT NULL UNIQUE REFERENCES applications,   -- one bill per application (its fee)
  service_id text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'paid', 'cancelled')),
  created_at timestamptz NOT NULL,
  closed_at timestamptz,
  CHECK ((state = 'open') = (closed_at IS NULL))
);

-- At most one payment per bill, enforced here and not only in code: UNIQUE (bill_id).
CREATE TABLE IF NOT EXISTS payments (
  id bigserial PRIMARY KEY,
  bill_id bigint NOT NULL UNIQUE REFERENCES bills,
  channel text NOT NULL CHECK (channel IN ('online', 'counter')),
  transaction text NOT NULL UNIQUE,        -- the provider's transaction id, or the counter's receipt number
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency text NOT NULL,
  paid_at timestamptz NOT NULL,
  actor text NOT NULL,                      -- provider:<kind> or staff:<sub>
  receipt text NOT NULL                     -- the receipt: a compact JWS signed by the agency
);
CREATE INDEX IF NOT EXISTS payments_paid_at ON payments (paid_at);

-- A bill leaves 'open' once, and a payment is never changed or removed.
CREATE OR REPLACE FUNCTION centre_bill_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR OLD.state <> 'open' THEN
    RAISE EXCEPTION 'bill % is %: it cannot change', OLD.bill_ref, OLD.state USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.bill_ref <> OLD.bill_ref OR NEW.amount_minor <> OLD.amount_minor OR NEW.currency <> OLD.currency
     OR NEW.application_id <> OLD.application_id THEN
    RAISE EXCEPTION 'a bill''s reference, amount and application never change' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS bills_final ON bills;
CREATE TRIGGER bills_final BEFORE UPDATE OR DELETE ON bills FOR EACH ROW EXECUTE FUNCTION centre_bill_final();

CREATE OR REPLACE FUNCTION centre_payment_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'payments are never changed or removed' USING ERRCODE = 'check_violation';
END $$;
DROP TRIGGER IF EXISTS payments_final ON payments;
CREATE TRIGGER payments_final BEFORE UPDATE OR DELETE ON payments FOR EACH ROW EXECUTE FUNCTION centre_payment_final();

-- The nonces of the provider's authentic notifications: one seen again is a replay.
CREATE TABLE IF NOT EXISTS payment_nonces (
  nonce text PRIMARY KEY,
  seen_at timestamptz NOT NULL
);

-- Authentic notifications that did not become a payment (an unknown bill, another amount, a bill paid or
-- cancelled already): the daily reconciliation lists them (money the provider took that may need a refund).
CREATE TABLE IF NOT EXISTS payment_notices (
  id bigserial PRIMARY KEY,
  received_at timestamptz NOT NULL,
  bill_ref text NOT NULL,
  transaction text NOT NULL,
  amount_minor bigint NOT NULL,
  currency text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('unknown_bill', 'mismatch', 'duplicate', 'cancelled', 'failed'))
);
CREATE INDEX IF NOT EXISTS payment_notices_received ON payment_notices (received_at);
