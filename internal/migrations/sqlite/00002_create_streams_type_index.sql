-- +goose Up
CREATE INDEX streams_type_id ON streams (stream_type, stream_id);

-- +goose Down
DROP INDEX streams_type_id;
