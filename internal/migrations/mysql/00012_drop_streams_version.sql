-- +goose Up
-- A stream's version and updated_at are its last event's, read through the
-- events_stream_version key: an append to a stream that exists no longer
-- writes its row (docs/performance.md). The row keeps what does not change.
ALTER TABLE streams DROP COLUMN version, DROP COLUMN updated_at;

-- +goose Down
-- Two statements: if the second fails, run it by hand.
ALTER TABLE streams ADD COLUMN version BIGINT NOT NULL DEFAULT 0, ADD COLUMN updated_at DATETIME(6) NULL;
UPDATE streams s JOIN events e ON e.stream_id = s.stream_id
    AND e.stream_version = (SELECT MAX(m.stream_version) FROM events m WHERE m.stream_id = s.stream_id)
    SET s.version = e.stream_version, s.updated_at = e.recorded_at;
