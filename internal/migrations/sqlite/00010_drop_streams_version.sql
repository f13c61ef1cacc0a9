-- +goose Up
-- A stream's version and updated_at are its last event's, read through the
-- unique index on events (stream_id, stream_version): an append to a stream
-- that exists no longer writes its row. The row keeps what does not change.
ALTER TABLE streams DROP COLUMN version;
ALTER TABLE streams DROP COLUMN updated_at;

-- +goose Down
ALTER TABLE streams ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE streams ADD COLUMN updated_at DATETIME;
UPDATE streams SET
    version = COALESCE((SELECT MAX(stream_version) FROM events WHERE events.stream_id = streams.stream_id), 0),
    updated_at = (SELECT recorded_at FROM events WHERE events.stream_id = streams.stream_id ORDER BY stream_version DESC LIMIT 1);
