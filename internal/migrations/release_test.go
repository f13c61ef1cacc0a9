package migrations_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAStartCutWhileTheServerDoesNotAnswerReturnsItsCutError: a migration
// cut by the start-up timeout (or a signal) while the server had stopped
// answering (SIGSTOP, a hung host, a network that drops everything) went
// on to release the migration lock with no deadline of its own, so the
// start waited in RELEASE_LOCK until the server answered again: the
// timeout's error never came, and the process hung until killed (hostile
// review, F5). The release has a bound of its own now: the start returns
// its CutError while the server still does not answer, and once it
// answers again the next start takes the lock and completes the schema.
func TestAStartCutWhileTheServerDoesNotAnswerReturnsItsCutError(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = proxy.Target()
	// direct reaches the same database around the proxy: the test's own
	// sessions go on answering while the start's stall.
	db, direct := openMySQL(t, dsn), openMySQL(t, cfg.FormatDSN())
	latest := int64(migrations.Latest("mysql"))
	if err := migrations.UpTo(ctx, direct, "mysql", latest-1); err != nil {
		t.Fatal(err)
	}
	release := mysqltest.HoldMetadataLock(t, direct, "events")
	t.Cleanup(release)
	start, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := &causeContext{Context: start, cause: context.DeadlineExceeded}
	done := make(chan error, 1)
	go func() { done <- migrations.ApplyMySQL(ended, db, slog.New(slog.DiscardHandler)) }()
	waitForStatement(t, direct, done)
	proxy.Stall()
	defer proxy.Resume()
	cancel()
	select {
	case err := <-done:
		var cut *migrations.CutError
		if !errors.As(err, &cut) || cut.Version != latest || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a start cut while the server did not answer: %v; want a CutError of migration %d wrapping the deadline", err, latest)
		}
	case <-time.After(2 * time.Minute): // against a hang only
		proxy.Resume()
		t.Fatalf("a start cut while the server did not answer has not returned 2 minutes after its context ended; "+
			"once the server answers again it returns %v", <-done)
	}
	proxy.Resume()
	release()
	if err := migrations.ApplyMySQL(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("the next start, once the server answers: %v", err)
	}
	if got := recorded(t, direct); len(got) != int(latest)+1 {
		t.Fatalf("versions recorded after the next start: %v", got)
	}
}
