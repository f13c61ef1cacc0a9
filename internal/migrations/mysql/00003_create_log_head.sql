-- +goose Up
-- A single row holding the last assigned position. Every append transaction
-- locks it (SELECT ... FOR UPDATE) until COMMIT, which serialises commits
-- across all processes and so makes positions visible in order.
CREATE TABLE log_head (
    id       TINYINT UNSIGNED NOT NULL,
    position BIGINT           NOT NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- +goose Down
DROP TABLE log_head;
