-- +goose Up
-- The id of the event at the head, which every append sets with the head
-- (the MySQL store's writer checks it; here it is kept the same way).
ALTER TABLE log_head ADD COLUMN last_event_id BLOB NULL;

-- +goose Down
ALTER TABLE log_head DROP COLUMN last_event_id;
