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
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAnAppendThatTimesOutSaysOnceWhenItsUserMayNotSeeTheLocksHolder: the
// store names the session holding the log's lock when an append times out
// on it (TestAnAppendThatTimesOutOnTheLogsLockSaysOnceWhoHoldsIt), from
// information_schema.INNODB_TRX, which needs the PROCESS privilege. A DSN's
// user without it is told, once until an append goes in again, at WARN:
// grant it PROCESS, or look as root. This had no test.
func TestAnAppendThatTimesOutSaysOnceWhenItsUserMayNotSeeTheLocksHolder(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, root, dsn := appUser(t, "noprocess") // all on its database, no PROCESS
	var logged testlog.Buffer
	s := openWithIdle(t, dsn, 0, mysqlstore.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if _, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream); err != nil {
		t.Fatal(err)
	}
	holder := lockRow(ctx, t, otherProcessDB(t, root), "SELECT position FROM log_head WHERE id = 1 FOR UPDATE")
	const want = `level=WARN msg="an append ran out of time, and the DSN's user may not see which session may hold the log's lock`
	timeOut := func(try int) {
		t.Helper()
		short, cancel := context.WithTimeout(ctx, time.Second)
		_, err := appendOne(short, s, uuid.New(), eventstore.NoStream)
		cancel()
		if !errors.Is(err, eventstore.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("try %d: an append while another session held the log's lock past its deadline: %v; want it to fail at its deadline", try, err)
		}
		s.WaitLockHolderSearch() // the line may come a moment after the append's answer
		if !strings.Contains(logged.String(), want) {
			t.Fatalf("try %d: no WARN says the DSN's user may not see who holds the log's lock; the log:\n%s", try, logged.String())
		}
	}
	timeOut(1)
	timeOut(2)
	if n := strings.Count(logged.String(), want); n != 1 {
		t.Errorf("the WARN came %d times over two appends that timed out; want once until an append goes in:\n%s", n, logged.String())
	}
	for _, word := range []string{"PROCESS", "INNODB_TRX", "database=noprocess"} {
		if !strings.Contains(logged.String(), word) {
			t.Errorf("the WARN does not say %q:\n%s", word, logged.String())
		}
	}
	// Once an append goes in, the next timeout says it again.
	if _, err := holder.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if _, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream); err != nil {
		t.Fatal(err)
	}
	lockRowAgain(ctx, t, holder, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE")
	short, cancel2 := context.WithTimeout(ctx, time.Second)
	appendOne(short, s, uuid.New(), eventstore.NoStream) //nolint:errcheck // it times out, as above
	cancel2()
	s.WaitLockHolderSearch()
	if n := strings.Count(logged.String(), want); n != 2 {
		t.Errorf("after an append went in, a timeout logged the WARN %d times in all; want it again, twice in all:\n%s", n, logged.String())
	}
}
