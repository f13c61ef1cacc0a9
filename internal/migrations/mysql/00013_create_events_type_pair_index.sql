-- +goose Up
-- A log read filtered on both a stream type and an event type reads only the
-- events of that pair, in position order, whichever of the two is rare: with
-- an index on one column only, the planner could pick the common one's and
-- read through all its events to find a page of the rare one's (the filter
-- ?stream_type=<rare>&type=<common> read 100,000 rows for none).
CREATE INDEX events_stream_type_event_type_position ON events (stream_type, event_type, position);

-- +goose Down
DROP INDEX events_stream_type_event_type_position ON events;
