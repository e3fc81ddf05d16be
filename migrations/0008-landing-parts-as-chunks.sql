-- Line formats (CSV, CMEP) are no longer parsed at the landing: it checks their structure,
-- stores the bytes in parts cut at record boundaries, and each part is a chunk that a worker
-- parses on its own (ESPI and order-dependent profiles keep parsed chunks). The preamble is
-- the file's first lines up to its header (or first row), prepended to every later part.
ALTER TABLE ingest_file
  ADD COLUMN preamble bytea,
  ADD COLUMN preamble_lines integer;
-- A chunk with first_line set is the file part of the same seq, starting at that line; its
-- item count is known once a worker has parsed it.
ALTER TABLE ingest_chunk ADD COLUMN first_line bigint;
