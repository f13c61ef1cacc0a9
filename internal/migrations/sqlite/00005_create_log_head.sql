-- +goose Up
CREATE TABLE log_head (
    id       INTEGER NOT NULL PRIMARY KEY,
    position INTEGER NOT NULL
);
INSERT INTO log_head (id, position) VALUES (1, 0);

-- +goose Down
DROP TABLE log_head;
