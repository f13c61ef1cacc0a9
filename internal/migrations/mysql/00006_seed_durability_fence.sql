-- +goose Up
INSERT INTO durability_fence (id, counter) VALUES (1, 0);

-- +goose Down
DELETE FROM durability_fence WHERE id = 1;
