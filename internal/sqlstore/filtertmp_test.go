package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAFilteredLogPageSpillsNoTemporaryTableToDisk: a read of the log
// filtered on several names merges one branch per name (or pair) in a
// temporary table on MariaDB. The branches selected each event's data and
// metadata, BLOBs, which MariaDB's in-memory temporary tables cannot hold:
// every such page went through a temporary table on disk (Aria, in
// tmpdir), copying each row's data. The branches must hold only positions
// (and small columns), the page's rows read by position: no read of a
// page, whole or by positions and chunks, adds to the session's
// Created_tmp_disk_tables.
func TestAFilteredLogPageSpillsNoTemporaryTableToDisk(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := oneSession(mysqlDB(t)) // its counters are its statements'
	writeTypedEvents(ctx, t, db, 2000, 50)
	r := reader{db: db, translate: func(err error) error { return err }, sizes: new(eventSizes), indexHint: ForceIndex}
	diskTables := func() int64 {
		t.Helper()
		var name string
		var n int64
		if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Created_tmp_disk_tables'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, sh := range filterShapes {
		what := shapeName(sh.streamTypes, sh.eventTypes)
		for _, way := range []struct {
			limit    int
			perEvent int64
		}{{10, 0}, {minFirstChunkRows + 1, chunkBytes / minFirstChunkRows}} {
			opts := eventstore.ReadAllOptions{Limit: way.limit, StreamTypes: sh.streamTypes, EventTypes: sh.eventTypes}
			r.sizes.perEvent.Store(way.perEvent)
			before := diskTables()
			n := readPage(ctx, t, r, opts)
			if made := diskTables() - before; made > 0 {
				t.Errorf("%s, a page of %d (%d events): %d temporary tables on disk, want none", what, way.limit, n, made)
			}
		}
	}
}

// readPage reads a page of the log and returns how many events it held.
func readPage(ctx context.Context, t *testing.T, r reader, opts eventstore.ReadAllOptions) int {
	t.Helper()
	page, err := r.ReadAll(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range page.Events {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}
