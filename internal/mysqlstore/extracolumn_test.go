package mysqlstore_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAnExtraColumnThatBreaksEveryAppendFailsReadyz: a schema restored
// with a column the store does not write, NOT NULL and without a default
// (streams.version, which migration 12 dropped, or a column another
// release added), makes every append fail (1364): each a 503, but /readyz
// said 200, so the instance stayed in service answering every append 503.
// Ping (/readyz) now fails too, naming the table and the column, and the
// append's error names the column. The opposite case of
// TestAColumnMissingWhileRunningIsUnavailableNamingIt. Reads go on (and,
// for streams, appends to a stream already there), so Ping's is a partial
// finding (the error found by looking, Table set, no driver error), which
// /readyz answers 200 saying appends are refused (a retest:
// TestReadyzStaysUpSayingAppendsAreRefusedForAnUnwrittenColumn).
func TestAnExtraColumnThatBreaksEveryAppendFailsReadyz(t *testing.T) {
	for table, alter := range map[string]string{
		"events":  "ALTER TABLE events ADD COLUMN legacy INT NOT NULL",
		"streams": "ALTER TABLE streams ADD COLUMN legacy INT NOT NULL",
	} {
		t.Run(table, func(t *testing.T) {
			ctx, dsn := guardedTest(t)
			s := openLogged(t, dsn, slog.New(slog.DiscardHandler))
			existing := uuid.New()
			appendVersions(ctx, t, s, existing, 1)
			if _, err := otherProcessDB(t, dsn).ExecContext(ctx, alter); err != nil {
				t.Fatal(err)
			}
			// The error is the UnwrittenColumnError, which the HTTP edge
			// answers naming the column, as a missing column's
			// (MissingError), not with an outage's "cannot be reached".
			_, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream)
			var unwritten *eventstore.UnwrittenColumnError
			if !errors.Is(err, eventstore.ErrUnavailable) || !errors.As(err, &unwritten) || unwritten.Column != "legacy" {
				t.Errorf("an append with %s.legacy NOT NULL and without a default: %v; want unavailable, an UnwrittenColumnError naming the column", table, err)
			}
			if _, err := appendOne(ctx, s, existing, eventstore.Exactly(1)); table == "streams" && err != nil {
				t.Errorf("an append to a stream already there with streams.legacy NOT NULL and without a default: %v; want it written", err)
			}
			err = s.Ping(ctx)
			if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), table+".legacy") ||
				!errors.As(err, &unwritten) || unwritten.Table != table || unwritten.Column != "legacy" || unwritten.Err != nil {
				t.Errorf("Ping (/readyz) with %s.legacy NOT NULL and without a default: %v; want unavailable, an UnwrittenColumnError naming the table and column, found by looking", table, err)
			}
			if table == "streams" && strings.Contains(err.Error(), "every append fails") {
				t.Errorf("Ping with streams.legacy: %v; want it not to say every append fails (appends to a stream already there are written)", err)
			}
		})
	}
}

// TestAnExtraColumnThatAppendsCanIgnoreIsHarmless: a column the store does
// not write but that takes NULL or has a default breaks nothing: appends go
// in, and Ping (/readyz) says the store is ready.
func TestAnExtraColumnThatAppendsCanIgnoreIsHarmless(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s := openLogged(t, dsn, slog.New(slog.DiscardHandler))
	appendVersions(ctx, t, s, uuid.New(), 1)
	for _, alter := range []string{
		"ALTER TABLE events ADD COLUMN note VARCHAR(10) NULL",
		"ALTER TABLE events ADD COLUMN flag INT NOT NULL DEFAULT 0",
		"ALTER TABLE streams ADD COLUMN note VARCHAR(10)",
		"ALTER TABLE log_head ADD COLUMN legacy INT NOT NULL", // only updated, never inserted into
	} {
		if _, err := otherProcessDB(t, dsn).ExecContext(ctx, alter); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream); err != nil {
		t.Errorf("an append with harmless extra columns: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping (/readyz) with harmless extra columns: %v", err)
	}
}
