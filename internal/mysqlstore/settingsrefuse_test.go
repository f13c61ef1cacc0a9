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
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAppendsAreRefusedOnceTheStoreSaysTheyAre: innodb_flush_log_at_trx_commit
// set to 2 on a running server (SET GLOBAL) is seen by the store's next new
// session, which logged at ERROR that every append is refused (503) until
// it is fixed. But only a new session of the writer's was refused: the
// writer's open sessions went on acknowledging appends that a crash could
// take back, for up to 30 minutes, while the log said they were refused.
// Once the store says it refuses appends, it does, on every session; and
// once the setting is fixed, appends are taken again. On a private server.
func TestAppendsAreRefusedOnceTheStoreSaysTheyAre(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t)
	dsn := server.CreateDatabase(t, "refuse")
	var logged testlog.Buffer
	s := openLogged(t, dsn, slog.New(slog.NewTextHandler(&logged, nil)))
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1) // the writer's sessions are open
	server.Exec(t, "SET GLOBAL innodb_flush_log_at_trx_commit = 2")
	if err := s.NewReadsSession(ctx); err != nil {
		t.Fatal(err)
	}
	const said = "every append is refused"
	if !strings.Contains(logged.String(), said) {
		t.Fatalf("a new session after SET GLOBAL innodb_flush_log_at_trx_commit = 2: want the log to say %q; the log:\n%s", said, logged.String())
	}
	_, err := appendOne(ctx, s, stream, eventstore.Any)
	if !errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, mysqlstore.ErrNotDurable) || !strings.Contains(err.Error(), "innodb_flush_log_at_trx_commit is 2") {
		t.Fatalf("an append once the store said every append is refused: %v; want it refused, unavailable and not durable, naming the setting", err)
	}
	server.Exec(t, "SET GLOBAL innodb_flush_log_at_trx_commit = 1")
	if _, err := appendOne(ctx, s, stream, eventstore.Any); err != nil {
		t.Fatalf("an append once innodb_flush_log_at_trx_commit is 1 again: %v; want it taken", err)
	}
}
