package sqlitestore

import (
	"context"
	"database/sql"
	"testing"
)

// TestEveryConnectionKeepsSQLitesTemporaryFilesInMemory: SQLite wrote its
// temporary files (a statement journal past 64 KiB: a batch of 300 small
// events, 50 of 40 KB, an append to a stream of a few hundred events) into
// /tmp, /var/tmp or the working directory, and a deployment with none of
// them writable (docker run --read-only, Kubernetes'
// readOnlyRootFilesystem) failed those appends with "disk I/O error
// (6410)", forever. Every connection of every pool must hold them in
// memory: PRAGMA temp_store = 2 (MEMORY).
func TestEveryConnectionKeepsSQLitesTemporaryFilesInMemory(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const readers = 3
	s, err := Open(ctx, t.TempDir(), Options{MaxReaders: readers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	pools := []struct {
		name string
		db   *sql.DB
		size int
	}{
		{"reads", s.reads, readers},
		{"writes", s.writes, 1},
		{"feed", s.feed, 2},
		// keep's one connection is held by the store (kept).
	}
	for _, p := range pools {
		// Every connection the pool may open, held at once: each is its own.
		conns := make([]*sql.Conn, p.size)
		for i := range conns {
			c, err := p.db.Conn(ctx)
			if err != nil {
				t.Fatalf("pool %s: connection %d: %v", p.name, i+1, err)
			}
			defer c.Close()
			conns[i] = c
		}
		for i, c := range conns {
			if got := tempStore(ctx, t, c); got != 2 {
				t.Errorf("pool %s, connection %d of %d: PRAGMA temp_store is %d; expected 2 (MEMORY)", p.name, i+1, p.size, got)
			}
		}
	}
	if got := tempStore(ctx, t, s.kept); got != 2 {
		t.Errorf("the connection kept open (keep): PRAGMA temp_store is %d; expected 2 (MEMORY)", got)
	}
}

// tempStore is PRAGMA temp_store on c.
func tempStore(ctx context.Context, t *testing.T, c *sql.Conn) int {
	t.Helper()
	var v int
	if err := c.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&v); err != nil {
		t.Fatalf("PRAGMA temp_store: %v", err)
	}
	return v
}
