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
