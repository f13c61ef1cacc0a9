-- +goose Up
-- One row per stream: its type and current version. Appends lock the rows
-- they touch; reads of a stream's description never scan its events.
CREATE TABLE streams (
    stream_id   BINARY(16)   NOT NULL,
    stream_type VARCHAR(128) NOT NULL,
    version     BIGINT       NOT NULL,
    created_at  DATETIME(6)  NOT NULL,
    updated_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (stream_id),
    KEY streams_type_id (stream_type, stream_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- +goose Down
DROP TABLE streams;
