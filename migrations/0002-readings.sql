-- The reading store. One row per meter, channel and UTC day holds the day's intervals as
-- arrays (values, ESPI quality codes, source-batch index, per-interval versions, VEE flags):
-- about 5-7 bytes per reading instead of ~94 for a row per reading, and one index entry
-- per meter-day. Partitioned by month (range on day) and by meter (hash), created on demand
-- by meterdata_ensure_reading_partitions for whatever period data arrives for.

CREATE TABLE ingest_batch (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source text NOT NULL,
  format text NOT NULL,
  created_by text,
  received_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  accepted integer NOT NULL DEFAULT 0,
  unchanged integer NOT NULL DEFAULT 0,
  changed integer NOT NULL DEFAULT 0,
  rejected integer NOT NULL DEFAULT 0
);

CREATE TABLE reading_day (
  meter_id bigint NOT NULL,
  -- 1 = delivered (import), 2 = received (export)
  channel smallint NOT NULL CHECK (channel IN (1, 2)),
  day date NOT NULL,
  -- kWh per interval, index i covers [day + i * step, day + (i + 1) * step) in UTC, where
  -- step = 86400 / cardinality(vals); NULL = no reading received
  vals real[] NOT NULL,
  -- ESPI QualityOfReading code per interval; 255 where vals is NULL
  quality bytea NOT NULL,
  -- distinct source batches of the day's current values; batch_idx picks one per interval
  -- (NULL: every interval comes from batches[1])
  batches bigint[] NOT NULL,
  batch_idx bytea,
  -- per-interval version (NULL: every interval is at version 1)
  versions smallint[],
  -- per-interval VEE rule bitmask (NULL: no rule failed)
  vee_flags integer[],
  -- row version: bumped on every change to the day, for cache keys and billing staleness
  version integer NOT NULL DEFAULT 1,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (meter_id, channel, day),
  CHECK (length(quality) = cardinality(vals))
) PARTITION BY RANGE (day);

-- "Many meters at one time" (system demand at an instant, a transformer's meters on a day).
CREATE INDEX reading_day_day_idx ON reading_day (day, channel);

-- Previous versions of intervals, append-only: a changed value never overwrites silently.
CREATE TABLE reading_history (
  meter_id bigint NOT NULL,
  channel smallint NOT NULL,
  ts timestamptz NOT NULL,
  -- the version that was replaced, and what it held
  version integer NOT NULL,
  value real,
  quality smallint,
  batch_id bigint,
  -- what replaced it
  new_value real,
  new_quality smallint,
  reason text NOT NULL CHECK (reason IN ('corrected_resend', 'late_actual', 'edit', 'revee')),
  changed_by_batch bigint,
  changed_by_user text,
  changed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (meter_id, channel, ts, version)
);

CREATE FUNCTION meterdata_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER reading_history_append_only
  BEFORE UPDATE OR DELETE ON reading_history
  FOR EACH ROW EXECUTE FUNCTION meterdata_reject_change();

CREATE TRIGGER reading_history_no_truncate
  BEFORE TRUNCATE ON reading_history
  FOR EACH STATEMENT EXECUTE FUNCTION meterdata_reject_change();

CREATE TABLE reading_partition_setting (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  hash_partitions integer NOT NULL CHECK (hash_partitions BETWEEN 1 AND 256)
);
INSERT INTO reading_partition_setting (hash_partitions) VALUES (4);

-- Creates the month partitions (and their hash sub-partitions by meter) covering
-- [from_day, to_day]. Safe to call concurrently and repeatedly.
CREATE FUNCTION meterdata_ensure_reading_partitions(from_day date, to_day date)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  m date := date_trunc('month', from_day)::date;
  n integer;
  created integer := 0;
  part text;
BEGIN
  IF to_day < from_day THEN
    RETURN 0;
  END IF;
  SELECT hash_partitions INTO n FROM reading_partition_setting;
  PERFORM pg_advisory_xact_lock(hashtext('meterdata_reading_partitions'));
  WHILE m <= to_day LOOP
    part := format('reading_day_%s', to_char(m, 'YYYY_MM'));
    IF to_regclass(part) IS NULL THEN
      EXECUTE format(
        'CREATE TABLE %I PARTITION OF reading_day FOR VALUES FROM (%L) TO (%L) PARTITION BY HASH (meter_id)',
        part, m, (m + interval '1 month')::date);
      FOR i IN 0 .. n - 1 LOOP
        EXECUTE format(
          'CREATE TABLE %I PARTITION OF %I FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
          part || '_h' || i, part, n, i);
      END LOOP;
      created := created + 1;
    END IF;
    m := (m + interval '1 month')::date;
  END LOOP;
  RETURN created;
END;
$$;
