package mysqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAnAppendToAFullDatabaseIsUnavailableAndNotWritten: a table the
// server can no more grow (error 1114, "The table 'events' is full": its
// tablespace at a fixed size, or its disk full) refused every append, which
// the store passed on untranslated: a 500 "internal error", with no
// Retry-After, as if the service had a bug. It is the database's trouble,
// as SQLITE_FULL is the embedded store's: a 503 that says the database is
// full and that the append was not written. On a private server whose one
// tablespace cannot grow past 12 MB.
func TestAnAppendToAFullDatabaseIsUnavailableAndNotWritten(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t, "--innodb-file-per-table=0", "--innodb-data-file-path=ibdata1:12M")
	s, _ := openCounted(t, server.CreateDatabase(t, "full"))
	data := append(append([]byte(`"`), bytes.Repeat([]byte("a"), 60<<10)...), '"')
	var err error
	var written int
	for range 1000 {
		req := eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "big", Expected: eventstore.NoStream}
		for range 10 {
			req.Events = append(req.Events, eventstore.NewEvent{Type: "big", Data: data})
		}
		if _, err = s.Append(ctx, req); err != nil {
			break
		}
		written += 10
	}
	if err == nil {
		t.Fatal("1000 appends of 600 KB each were written to a tablespace of 12 MB; want the table full")
	}
	if !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrOutcomeUnknown) {
		t.Fatalf("an append to a full table: %v; want an error wrapping ErrUnavailable, not ErrOutcomeUnknown", err)
	}
	if !strings.Contains(err.Error(), "full") {
		t.Errorf("an append to a full table: %q; want it to say the database is full", err)
	}
	var stored int
	if err := s.WritesPool().QueryRowContext(ctx, "SELECT COUNT(*) FROM events").Scan(&stored); err != nil {
		t.Fatalf("count the events: %v", err)
	}
	if stored != written {
		t.Errorf("after the refused append the log holds %d events; want the %d appended before it, the refused one not written", stored, written)
	}
}
