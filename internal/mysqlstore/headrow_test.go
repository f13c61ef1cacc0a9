package mysqlstore_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestTheLogsHeadRowMissingIsSaidInWords: during a restore (mariadb <
// dump.sql: log_head dropped and made again, its row not yet inserted)
// the live feed logged a bare "read log head: sql: no rows in result set",
// where every other state of a restore is put in words. The head's row
// missing is said so (naming log_head, a restore under way or a change by
// hand), unavailable, for the feed's read of the head. (An append's,
// the writer's own words, is left to the writer's owners.) On a
// private server.
func TestTheLogsHeadRowMissingIsSaidInWords(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t)
	dsn := server.CreateDatabase(t, "headrow")
	s := openLogged(t, dsn, slog.New(slog.DiscardHandler))
	appendVersions(ctx, t, s, uuid.New(), 1)
	if _, err := otherProcessDB(t, dsn).ExecContext(ctx, "DELETE FROM log_head"); err != nil {
		t.Fatal(err)
	}
	want := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrOutcomeUnknown) ||
			!strings.Contains(err.Error(), "log_head") || !strings.Contains(err.Error(), "missing") {
			t.Errorf("%s, log_head's row missing: %v; want an error wrapping ErrUnavailable saying log_head's row is missing", what, err)
		}
	}
	_, err := s.Tail().Head(ctx)
	want("the live feed's read of the head", err)
}

// TestReadyzFailsWhileTheLogsHeadRowIsMissing: with log_head's row missing
// (a restore under way, a change by hand) every append fails, 503, but
// Ping (/readyz) said the store was ready: a load balancer kept sending
// appends to an instance that can take none. Ping fails, unavailable,
// naming the row, until it is back.
func TestReadyzFailsWhileTheLogsHeadRowIsMissing(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	appendVersions(ctx, t, s, uuid.New(), 1)
	other := otherProcessDB(t, dsn)
	var position int64
	if err := other.QueryRowContext(ctx, "SELECT position FROM log_head WHERE id = 1").Scan(&position); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, "DELETE FROM log_head"); err != nil {
		t.Fatal(err)
	}
	err := s.Ping(ctx)
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "log_head") || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Ping (/readyz) with log_head's row missing: %v; want an error wrapping ErrUnavailable saying log_head's row is missing", err)
	}
	if _, err := other.ExecContext(ctx, "INSERT INTO log_head (id, position) VALUES (1, ?)", position); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping (/readyz) once log_head's row is back: %v", err)
	}
}
