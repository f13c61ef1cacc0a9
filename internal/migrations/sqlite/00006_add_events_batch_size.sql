-- +goose Up
-- On the first event of each append, the number of events the append stored;
-- 0 on the others. A retry is idempotent only if it repeats a whole batch, and
-- this is where a batch's bounds are kept. NULL on events stored before it
-- existed, whose retries are judged without it.
ALTER TABLE events ADD COLUMN batch_size INTEGER NULL;

-- +goose Down
ALTER TABLE events DROP COLUMN batch_size;
