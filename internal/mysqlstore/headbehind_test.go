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
	"github.com/tributary-dev/tributary/internal/testlog"
)

// mendHead is the repair the store names for a log head behind its events.
const mendHead = "UPDATE log_head SET position = (SELECT MAX(position) FROM events) WHERE id = 1"

// TestALogHeadBehindItsEventsIsDamageNamingTheRepair: log_head behind the
// last position in events (a restore from dumps taken apart: log_head's
// older than events') made every append a 500 "internal error", on every
// instance, after a restart too, blaming "something writes without the log
// lock", while /readyz said 200 and no store error was counted. No retry
// mends it: it is damage (eventstore.ErrDamaged, unavailable) naming both
// positions and the one UPDATE that mends it, logged once at ERROR (at
// start-up too), and Ping (/readyz) fails with it, until it is mended. On a
// private server.
func TestALogHeadBehindItsEventsIsDamageNamingTheRepair(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t)
	dsn := server.CreateDatabase(t, "behind")
	var logs testlog.Buffer
	s := openLogged(t, dsn, slog.New(slog.NewTextHandler(&logs, nil)))
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 3)
	db := otherProcessDB(t, dsn)
	if _, err := db.ExecContext(ctx, "UPDATE log_head SET position = position - 2 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	wantDamaged := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, eventstore.ErrDamaged) || !errors.Is(err, eventstore.ErrUnavailable) ||
			!strings.Contains(err.Error(), mendHead) || !strings.Contains(err.Error(), "log_head") {
			t.Errorf("%s, log_head behind the events: %v; want an error wrapping ErrDamaged and ErrUnavailable, naming log_head and the repair %q", what, err, mendHead)
		}
	}
	for range 2 {
		_, err := appendOne(ctx, s, stream, eventstore.Exactly(3))
		wantDamaged("an append", err)
	}
	_, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream)
	wantDamaged("an append to a new stream", err)
	wantDamaged("Ping (/readyz)", s.Ping(ctx))
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 || !strings.Contains(logs.String(), "log_head") {
		t.Errorf("the store logged %d ERROR lines; want one, naming log_head:\n%s", n, logs.String())
	}
	// Another instance, or this one restarted, finds it the same, and
	// says so as it starts.
	var otherLogs testlog.Buffer
	other := openLogged(t, dsn, slog.New(slog.NewTextHandler(&otherLogs, nil)))
	if !strings.Contains(otherLogs.String(), "level=ERROR") || !strings.Contains(otherLogs.String(), "log_head") {
		t.Errorf("a start with log_head behind the events logged no ERROR naming log_head:\n%s", otherLogs.String())
	}
	_, err = appendOne(ctx, other, uuid.New(), eventstore.NoStream)
	wantDamaged("an append of another instance", err)
	wantDamaged("Ping (/readyz) of another instance", other.Ping(ctx))

	if _, err := db.ExecContext(ctx, mendHead); err != nil {
		t.Fatalf("the repair named: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping, log_head mended: %v; want nil", err)
	}
	if _, err := appendOne(ctx, s, stream, eventstore.Exactly(3)); err != nil {
		t.Errorf("an append, log_head mended: %v; want it written", err)
	}
}
