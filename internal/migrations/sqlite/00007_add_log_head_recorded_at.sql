-- +goose Up
-- The time stamped on the last event. An append stamps its events no earlier
-- than this, so recorded_at never decreases along the log, whatever the
-- clocks of the processes or the moment the database evaluated its clock.
ALTER TABLE log_head ADD COLUMN recorded_at DATETIME NULL;

-- +goose Down
ALTER TABLE log_head DROP COLUMN recorded_at;
