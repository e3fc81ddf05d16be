-- ESPI feeds land as parts too: the landing checks a feed's structure and records where its
-- runs of IntervalReadings are, and workers parse those readings from the stored parts. A chunk
-- with segments set is such a list (JSON: parts size, block contexts, byte ranges); see
-- src/ingest/formats/espi-segments.ts.
ALTER TABLE ingest_chunk ADD COLUMN segments jsonb;
