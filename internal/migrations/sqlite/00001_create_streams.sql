-- +goose Up
CREATE TABLE streams (
    stream_id   BLOB     NOT NULL PRIMARY KEY,
    stream_type TEXT     NOT NULL,
    version     INTEGER  NOT NULL,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE streams;
