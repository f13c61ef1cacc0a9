-- +goose Up
-- The id of the event at the head, which every append sets with the head. A
-- writer that sends a group in one round trip checks that the head and this
-- id are still the ones its own last commit left: the number alone can come
-- back after a commit the database lost.
ALTER TABLE log_head ADD COLUMN last_event_id BINARY(16) NULL;

-- +goose Down
ALTER TABLE log_head DROP COLUMN last_event_id;
