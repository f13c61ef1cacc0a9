-- +goose Up
-- A random id each append's commit leaves on log_head with the head, in place
-- of the id of the event at the head (migration 10): a client may retry an
-- event with the id it chose, so that id at the head does not prove which
-- commit put it there. A writer that sends a group in one round trip checks
-- that the head and this id are still the ones its own last commit left.
ALTER TABLE log_head CHANGE last_event_id commit_id BINARY(16) NULL;

-- +goose Down
ALTER TABLE log_head CHANGE commit_id last_event_id BINARY(16) NULL;
