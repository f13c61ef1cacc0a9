-- +goose Up
INSERT INTO log_head (id, position) VALUES (1, 0);

-- +goose Down
DELETE FROM log_head WHERE id = 1;
