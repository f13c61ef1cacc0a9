package mysqlstore_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAColumnMissingWhileRunningIsUnavailableNamingIt: an older schema
// restored under a running store (here events without batch_size, as
// before migration 7) made every append fail with the server's 1054
// ("Unknown column"), a 500 "internal error", while /readyz said 200. It is
// the same outage as a table missing: eventstore.MissingError, naming the
// column, unavailable (a 503), logged once at ERROR however many requests
// meet it, and Ping (/readyz) fails with it too.
func TestAColumnMissingWhileRunningIsUnavailableNamingIt(t *testing.T) {
	ctx, dsn := guardedTest(t)
	var logs testlog.Buffer
	s := openLogged(t, dsn, slog.New(slog.NewTextHandler(&logs, nil)))
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)
	if _, err := otherProcessDB(t, dsn).ExecContext(ctx, "ALTER TABLE events DROP COLUMN batch_size"); err != nil {
		t.Fatal(err)
	}
	wantMissing := func(what string, err error) {
		t.Helper()
		var missing *eventstore.MissingError
		if !errors.As(err, &missing) || !errors.Is(err, eventstore.ErrUnavailable) || missing.Column != "batch_size" {
			t.Errorf("%s with the column events.batch_size missing: %v; want a MissingError naming the column, unavailable", what, err)
		}
	}
	for range 2 {
		_, err := appendOne(ctx, s, stream, eventstore.Exactly(1))
		wantMissing("an append", err)
	}
	_, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream)
	wantMissing("an append to a new stream", err)
	wantMissing("Ping (/readyz)", s.Ping(ctx))
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 || !strings.Contains(logs.String(), "batch_size") {
		t.Errorf("the store logged %d ERROR lines; want one, naming the missing column:\n%s", n, logs.String())
	}
}

// TestADiscardedTablespaceIsATableMissing: a restore of a table's own file
// begun under a running store (ALTER TABLE … DISCARD TABLESPACE, before
// its .ibd is copied in and imported) made every append and read of it a
// 500 "internal error" with the server's 1814, and /readyz said 200. It is
// the table missing (eventstore.MissingError naming it, unavailable), as a
// dropped table is, for /readyz too.
func TestADiscardedTablespaceIsATableMissing(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s := openLogged(t, dsn, slog.New(slog.DiscardHandler))
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)
	if _, err := otherProcessDB(t, dsn).ExecContext(ctx, "ALTER TABLE events DISCARD TABLESPACE"); err != nil {
		t.Fatal(err)
	}
	wantMissing := func(what string, err error) {
		t.Helper()
		var missing *eventstore.MissingError
		if !errors.As(err, &missing) || !errors.Is(err, eventstore.ErrUnavailable) || missing.Table != "events" {
			t.Errorf("%s with the events table's tablespace discarded: %v; want a MissingError naming the table, unavailable", what, err)
		}
	}
	_, err := appendOne(ctx, s, stream, eventstore.Exactly(1))
	wantMissing("an append", err)
	_, err = s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{})
	wantMissing("a read", err)
	wantMissing("Ping (/readyz)", s.Ping(ctx))
}
