-- +goose Up
-- position is assigned by the application inside BEGIN IMMEDIATE, which
-- serialises writers, so it grows in commit order.
CREATE TABLE events (
    position       INTEGER  NOT NULL PRIMARY KEY,
    event_id       BLOB     NOT NULL UNIQUE,
    stream_id      BLOB     NOT NULL,
    stream_version INTEGER  NOT NULL,
    stream_type    TEXT     NOT NULL,
    event_type     TEXT     NOT NULL,
    data           BLOB     NOT NULL,
    metadata       BLOB,
    recorded_at    DATETIME NOT NULL,
    UNIQUE (stream_id, stream_version)
);

-- +goose Down
DROP TABLE events;
