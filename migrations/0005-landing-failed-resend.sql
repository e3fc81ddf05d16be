-- A file that failed (structurally broken, or a required option such as --meter missing)
-- can be sent again once fixed: only files that did not fail count as duplicates.
ALTER TABLE ingest_file DROP CONSTRAINT ingest_file_sha256_key;
CREATE UNIQUE INDEX ingest_file_sha256_key ON ingest_file (sha256) WHERE status <> 'failed';
CREATE INDEX ingest_file_sha256_idx ON ingest_file (sha256);
