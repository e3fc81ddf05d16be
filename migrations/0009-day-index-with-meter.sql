-- The "many meters at one time" index gains meter_id as its last column. A partition that
-- has not been analysed yet (every new month, until autovacuum gets to it) has no statistics,
-- and the planner then probes it by (day, channel) for the write path's look-ups of
-- (meter_id, channel, day) keys, filtering every meter of that day for each key: the cost of a
-- chunk grew with the fleet. With meter_id in this index too, either index finds a key in
-- one probe, whatever the statistics say.
DROP INDEX reading_day_day_idx;
CREATE INDEX reading_day_day_idx ON reading_day (day, channel, meter_id);
