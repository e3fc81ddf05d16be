-- The landing: every head-end file or batch is registered (and its bytes kept) before it is
-- processed, so an acknowledged file survives any crash and the same content again is a
-- duplicate. A file is split into chunks of parsed readings; the queue carries only chunk
-- references, the payload stays here, and a chunk's readings and its "done" mark commit in
-- one transaction: redelivery never counts or writes twice.

ALTER TABLE ingest_batch
  ADD COLUMN source_system text,
  ADD COLUMN comm_path text CHECK (comm_path IN ('RF_MESH', 'PLC', 'CELLULAR')),
  ADD COLUMN file_id bigint;

CREATE TABLE ingest_file (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- NULL only inside the transaction that receives the bytes
  sha256 text UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  source text NOT NULL,
  source_system text,
  comm_path text CHECK (comm_path IN ('RF_MESH', 'PLC', 'CELLULAR')),
  format text NOT NULL CHECK (format IN ('csv', 'cmep', 'espi')),
  profile jsonb,
  meter_override text,
  file_name text,
  created_by text,
  size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
  received_at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL DEFAULT 'received'
    CHECK (status IN ('received', 'processing', 'done', 'failed')),
  batch_id bigint,
  chunks_total integer,
  items_total bigint,
  parse_rejected bigint NOT NULL DEFAULT 0,
  accepted bigint NOT NULL DEFAULT 0,
  unchanged bigint NOT NULL DEFAULT 0,
  changed bigint NOT NULL DEFAULT 0,
  rejected bigint NOT NULL DEFAULT 0,
  error_code text,
  error_message text,
  started_at timestamptz,
  finished_at timestamptz
);
CREATE INDEX ingest_file_status_idx ON ingest_file (status, id);
CREATE INDEX ingest_file_received_idx ON ingest_file (received_at);

-- The file's bytes, in parts of up to 1 MiB.
CREATE TABLE ingest_file_part (
  file_id bigint NOT NULL REFERENCES ingest_file (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (file_id, seq)
);

CREATE TABLE ingest_chunk (
  file_id bigint NOT NULL REFERENCES ingest_file (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  items integer NOT NULL,
  -- parsed readings (JSON, columnar); cleared once the chunk is done
  payload bytea,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dead')),
  deliveries integer NOT NULL DEFAULT 0,
  -- the in-process queue's lease: a chunk whose worker died is taken again after it
  leased_until timestamptz,
  -- when the chunk reference was handed to the queue (NULL: not yet, e.g. Redis was down)
  published_at timestamptz,
  accepted integer NOT NULL DEFAULT 0,
  unchanged integer NOT NULL DEFAULT 0,
  changed integer NOT NULL DEFAULT 0,
  rejected integer NOT NULL DEFAULT 0,
  worker text,
  error text,
  done_at timestamptz,
  PRIMARY KEY (file_id, seq)
);
CREATE INDEX ingest_chunk_pending_idx ON ingest_chunk (file_id, seq) WHERE status = 'pending';

-- The first rejections of each file, with their line or record number and reason.
CREATE TABLE ingest_rejection (
  file_id bigint NOT NULL REFERENCES ingest_file (id) ON DELETE CASCADE,
  position bigint NOT NULL,
  code text NOT NULL,
  message text NOT NULL,
  meter_serial text,
  PRIMARY KEY (file_id, position, code)
);

-- Named CSV mapping profiles (validated on save), referenced by `?profile=` on uploads.
CREATE TABLE csv_profile (
  name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
  profile jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
