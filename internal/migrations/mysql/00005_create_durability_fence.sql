-- +goose Up
-- A one-row table the live feed writes to when the binary log is off: once
-- that tiny commit returns, every commit visible before it is on disk too.
CREATE TABLE durability_fence (
    id      TINYINT UNSIGNED NOT NULL,
    counter BIGINT           NOT NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- +goose Down
DROP TABLE durability_fence;
