-- +goose Up
-- The log. position is assigned by the application under the log_head row
-- lock, so it grows in commit order. data and metadata are BLOBs rather than
-- JSON columns because a JSON column rewrites key order and spacing, and data
-- must come back byte for byte.
CREATE TABLE events (
    position       BIGINT       NOT NULL,
    event_id       BINARY(16)   NOT NULL,
    stream_id      BINARY(16)   NOT NULL,
    stream_version BIGINT       NOT NULL,
    stream_type    VARCHAR(128) NOT NULL,
    event_type     VARCHAR(128) NOT NULL,
    data           LONGBLOB     NOT NULL,
    metadata       LONGBLOB     NULL,
    recorded_at    DATETIME(6)  NOT NULL,
    PRIMARY KEY (position),
    UNIQUE KEY events_stream_version (stream_id, stream_version),
    UNIQUE KEY events_event_id (event_id),
    KEY events_stream_type_position (stream_type, position),
    KEY events_event_type_position (event_type, position)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- +goose Down
DROP TABLE events;
