-- +goose Up
CREATE INDEX events_stream_type_position ON events (stream_type, position);
CREATE INDEX events_event_type_position ON events (event_type, position);

-- +goose Down
DROP INDEX events_event_type_position;
DROP INDEX events_stream_type_position;
