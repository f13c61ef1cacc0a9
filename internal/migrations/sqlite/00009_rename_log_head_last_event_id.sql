-- +goose Up
-- A random id each append's commit leaves on log_head with the head, in place
-- of the id of the event at the head (migration 8; see the MySQL store's
-- migration 11 for why).
ALTER TABLE log_head RENAME COLUMN last_event_id TO commit_id;

-- +goose Down
ALTER TABLE log_head RENAME COLUMN commit_id TO last_event_id;
