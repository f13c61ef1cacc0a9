-- +goose Up
-- Which node of a Galera cluster takes the appends: its wsrep_gcomm_uuid.
-- Every append transaction locks this row with the log's head and goes on
-- only on the node it names, so that the instances of the service never
-- write through two nodes at once. Unused (and empty) on one server.
CREATE TABLE writer_lease (
    id    TINYINT UNSIGNED NOT NULL,
    node  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    epoch BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB;

-- +goose Down
DROP TABLE writer_lease;
