package mysqlstore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAStartWhoseCheckOfTheReplicaStallsEndsWithItsContext: Open tells a
// read replica on the primary's own server by a named lock taken on the
// primary, which it then releases. The release ran without the caller's
// context: the primary stalling just then (its answer never coming) held
// Open past its start-up time, for as long as the stall lasted. Here the
// proxy holds the release's statement, and the start's context is
// cancelled: Open returns, the statement still held.
func TestAStartWhoseCheckOfTheReplicaStallsEndsWithItsContext(t *testing.T) {
	t.Parallel()
	dsn, p := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	direct := cfg.Clone()
	direct.Addr = p.Target()
	held, release := p.HoldAfter(func(chunk []byte) bool { return bytes.Contains(chunk, []byte("RELEASE_LOCK")) })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{ReadDSN: direct.FormatDSN()})
		if err == nil {
			s.Close()
		}
		done <- err
	}()
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("Open returned (%v) before it released its named lock on the primary", err)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Open with the primary as its read replica opened")
		}
		release()
	case <-time.After(30 * time.Second): // a hang's guard, not a bound on its time
		t.Error("Open did not return once its context was cancelled, the release of its named lock held by the primary")
		release()
		<-done
	}
}
