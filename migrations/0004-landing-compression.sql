-- File parts and staged chunks are stored deflate-compressed (CSV and JSON compress 5-10x),
-- which cuts the bytes written and sent on the write path; older rows stay uncompressed.
ALTER TABLE ingest_file_part ADD COLUMN compressed boolean NOT NULL DEFAULT false;
ALTER TABLE ingest_chunk ADD COLUMN compressed boolean NOT NULL DEFAULT false;
