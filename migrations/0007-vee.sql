-- VEE: versioned rule sets per meter class, exceptions raised by the rules, estimation methods
-- per interval, and the append-only audit of operator edits.

-- Rule sets: one row per version; the current rule set of a class is its highest version.
-- Seeded lazily from DEFAULT_RULE_SETS (the defaults live in code, with their sources).
CREATE TABLE vee_rule_set (
  meter_class text NOT NULL CHECK (meter_class IN ('RESIDENTIAL', 'COMMERCIAL', 'INDUSTRIAL')),
  version integer NOT NULL CHECK (version >= 1),
  rule_set jsonb NOT NULL,
  created_by text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (meter_class, version)
);

-- Exceptions: one per rule failure on a meter-channel range. meter_id leads every key
-- (distributable by meter). An open exception is unique per (meter, channel, rule, range), so
-- the same failure found again (a resend, a re-VEE) adds nothing.
CREATE TABLE vee_exception (
  meter_id bigint NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  channel smallint NOT NULL CHECK (channel IN (1, 2)),
  from_ts timestamptz NOT NULL,
  to_ts timestamptz NOT NULL CHECK (to_ts > from_ts),
  rule text NOT NULL,
  severity text NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
  detail text NOT NULL,
  data jsonb,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'resolved')),
  created_at timestamptz NOT NULL DEFAULT now(),
  rule_set_version integer NOT NULL,
  decided_by text,
  decided_at timestamptz,
  note text,
  PRIMARY KEY (meter_id, id)
);
CREATE UNIQUE INDEX vee_exception_open_key
  ON vee_exception (meter_id, channel, rule, from_ts, to_ts) WHERE status = 'open';
CREATE INDEX vee_exception_range_idx ON vee_exception (meter_id, channel, from_ts);
CREATE INDEX vee_exception_status_idx ON vee_exception (status, created_at);

-- Per-interval estimation method (ESTIMATION_METHODS index + 1; 0 = none); NULL when none.
-- Estimates replace values with history reason 'revee'; edits with 'edit'.
ALTER TABLE reading_day ADD COLUMN est_method smallint[];

-- Audit of operator changes (edits, estimates): who, when, why, what. Append-only: triggers
-- reject UPDATE, DELETE and TRUNCATE whoever runs them, and the application role may only
-- insert and read (it cannot truncate, alter or drop a table it does not own).
CREATE TABLE reading_audit (
  id bigint GENERATED ALWAYS AS IDENTITY,
  meter_id bigint NOT NULL,
  channel smallint NOT NULL CHECK (channel IN (1, 2)),
  from_ts timestamptz NOT NULL,
  to_ts timestamptz NOT NULL,
  action text NOT NULL CHECK (action IN ('edit', 'estimate')),
  method text,
  changed_by text NOT NULL,
  reason text NOT NULL CHECK (reason <> ''),
  old_values real[] NOT NULL,
  new_values real[] NOT NULL,
  old_quality smallint[] NOT NULL,
  new_quality smallint[] NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (meter_id, id)
);

CREATE TRIGGER reading_audit_append_only
  BEFORE UPDATE OR DELETE ON reading_audit
  FOR EACH ROW EXECUTE FUNCTION meterdata_reject_change();

CREATE TRIGGER reading_audit_no_truncate
  BEFORE TRUNCATE ON reading_audit
  FOR EACH STATEMENT EXECUTE FUNCTION meterdata_reject_change();

-- The application role: no login of its own (grant it to the login the service uses), no
-- ownership; on the audit only INSERT and SELECT.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'meterdata_app') THEN
    CREATE ROLE meterdata_app NOLOGIN;
  END IF;
END;
$$;
GRANT USAGE ON SCHEMA public TO meterdata_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON reading_day, vee_exception, vee_rule_set TO meterdata_app;
GRANT SELECT, INSERT ON reading_history, reading_audit TO meterdata_app;
