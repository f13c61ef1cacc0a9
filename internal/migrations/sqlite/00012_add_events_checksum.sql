-- +goose Up
-- The CRC-32C of an event as its append took it (sqlitestore's eventSum
-- says of what), written with the event and checked by every read: SQLite
-- keeps no checksum of a row. NULL on events stored before it existed,
-- whose reads check that their data and metadata are JSON in UTF-8. Adding
-- a nullable column with no default changes the schema only: no row is
-- rewritten, whatever the size of the file.
ALTER TABLE events ADD COLUMN checksum INTEGER NULL;

-- +goose Down
ALTER TABLE events DROP COLUMN checksum;
