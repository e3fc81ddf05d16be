-- Topology: substation → feeder → transformer → service point → meter, plus customer accounts.
-- Small dimension tables (Citus reference tables when sharded): no foreign key from them
-- to a meter-keyed table.

CREATE TABLE substation (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code text NOT NULL UNIQUE CHECK (code <> ''),
  name text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE feeder (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code text NOT NULL UNIQUE CHECK (code <> ''),
  substation_id bigint NOT NULL REFERENCES substation (id),
  name text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feeder_substation_idx ON feeder (substation_id);

CREATE TABLE transformer (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code text NOT NULL UNIQUE CHECK (code <> ''),
  feeder_id bigint NOT NULL REFERENCES feeder (id),
  rated_kva double precision NOT NULL CHECK (rated_kva > 0),
  phase text NOT NULL CHECK (phase IN ('A', 'B', 'C', 'ABC')),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transformer_feeder_idx ON transformer (feeder_id);

CREATE TABLE account (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code text NOT NULL UNIQUE CHECK (code <> ''),
  name text,
  customer_class text NOT NULL CHECK (customer_class IN ('RESIDENTIAL', 'COMMERCIAL', 'INDUSTRIAL')),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE service_point (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code text NOT NULL UNIQUE CHECK (code <> ''),
  transformer_id bigint NOT NULL REFERENCES transformer (id),
  premise text NOT NULL,
  account_id bigint REFERENCES account (id),
  time_zone text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX service_point_transformer_idx ON service_point (transformer_id);
CREATE INDEX service_point_account_idx ON service_point (account_id);

CREATE TABLE meter (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  serial text NOT NULL UNIQUE CHECK (serial <> ''),
  mrid text UNIQUE,
  service_point_id bigint NOT NULL REFERENCES service_point (id),
  multiplier double precision NOT NULL DEFAULT 1 CHECK (multiplier > 0),
  unit text NOT NULL DEFAULT 'kWh' CHECK (unit IN ('kWh')),
  interval_seconds integer NOT NULL DEFAULT 900
    CHECK (interval_seconds >= 60 AND 86400 % interval_seconds = 0),
  channels text[] NOT NULL DEFAULT '{delivered}'
    CHECK (channels <@ ARRAY['delivered', 'received'] AND cardinality(channels) > 0),
  installed_at timestamptz NOT NULL,
  removed_at timestamptz CHECK (removed_at IS NULL OR removed_at > installed_at),
  status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INACTIVE', 'REMOVED')),
  comm_path text NOT NULL CHECK (comm_path IN ('RF_MESH', 'PLC', 'CELLULAR')),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meter_service_point_idx ON meter (service_point_id);
CREATE INDEX meter_status_idx ON meter (status);
CREATE INDEX meter_comm_path_idx ON meter (comm_path);
