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

// TestTheLockHolderSearchTakesNoSessionOfTheLiveFeeds: an append that ran
// out of time has the store look for who holds the lock it waited for. The
// search took its sessions from the live feed's pool of three (the
// primary's), two at once where it probes a table's lock: with the feed's
// tailer reading and its fence writing (two sessions in use), the search
// waited for the feed's sessions, and they for it, until its time ended,
// naming nothing. Here two of the feed's sessions are held while the search
// runs: it must not wait for the feed's pool, and must name the lock.
func TestTheLockHolderSearchTakesNoSessionOfTheLiveFeeds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := mysqltest.NewDatabase(t)
	var logged testlog.Buffer
	s := openLogged(t, dsn, slog.New(slog.NewTextHandler(&logged, nil)))
	appendVersions(ctx, t, s, uuid.New(), 1)
	// Another session holds the events table (a table's lock: the search
	// probes it on a session while it reads PROCESSLIST on another).
	locker := session(ctx, t, otherProcessDB(t, dsn))
	if _, err := locker.ExecContext(ctx, "LOCK TABLES events WRITE"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { locker.ExecContext(context.Background(), "UNLOCK TABLES") }) //nolint:errcheck // the test's end
	feed := s.FeedPool()
	for range 2 { // the tailer's read and the fence, in flight
		c, err := feed.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	waits := feed.Stats().WaitCount
	short, cancelShort := context.WithTimeout(ctx, 1500*time.Millisecond)
	_, err := appendOne(short, s, uuid.New(), eventstore.NoStream)
	cancelShort()
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("an append while another session held the events table: %v; want it unavailable", err)
	}
	s.WaitLockHolderSearch()
	if n := feed.Stats().WaitCount - waits; n != 0 {
		t.Errorf("the search for the lock's holder waited %d times for a session of the live feed's pool, want 0", n)
	}
	if log := logged.String(); !strings.Contains(log, "metadata lock") {
		t.Errorf("an append stalled by a table's lock, with two of the feed's sessions in use: want the log to name the table's metadata lock; the log:\n%s", log)
	}
}
