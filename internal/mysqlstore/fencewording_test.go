package mysqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/faultproxy"
)

// TestAFenceWithoutADeadlineSaysWhyItEnded: the live feed's fence (its
// caller has no deadline) ends after 3 s, and its error is what the feed
// logs. It said "its row or table locked by another session?" whatever
// ended it: with the database frozen (SIGSTOP, a stalled network) an
// operator looked for a lock that was not there. The lock is named only
// when the server answered that it waited for one (1205); a fence that got
// no answer says so.
func TestAFenceWithoutADeadlineSaysWhyItEnded(t *testing.T) {
	t.Run("the server answers that the fence's row is locked", func(t *testing.T) {
		ctx, dsn := guardedTest(t)
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		// The server's own wait for a row lock (1 s) ends before the fence's 3 s.
		cfg.Params = map[string]string{"innodb_lock_wait_timeout": "1"}
		s, _ := openCounted(t, cfg.FormatDSN())
		if !s.Fences() {
			t.Skip("the binary log is on: no fence is written")
		}
		lockRow(ctx, t, otherProcessDB(t, dsn), "SELECT counter FROM durability_fence WHERE id = 1 FOR UPDATE")
		err = s.Tail().WaitDurable(context.Background(), 1)
		if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "did not commit within 3s (its row or table locked by another session") {
			t.Errorf("WaitDurable while another session held the fence's row, the server's wait 1 s: %v; "+
				"want an error wrapping ErrUnavailable that says the fence's row or table is locked", err)
		}
	})
	t.Run("the fence's row is locked past its time, the server's wait longer", func(t *testing.T) {
		// The server's own wait (50 s by default) bounded to the fence's
		// time rounded up ended a moment after it: the fence said it got
		// no answer, though the server was waiting for a lock.
		ctx, dsn := guardedTest(t)
		s, _ := openCounted(t, dsn)
		if !s.Fences() {
			t.Skip("the binary log is on: no fence is written")
		}
		holdRowLock(ctx, t, s, otherProcessDB(t, dsn), "SELECT counter FROM durability_fence WHERE id = 1 FOR UPDATE")
		err := s.Tail().WaitDurable(context.Background(), 1)
		if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "did not commit within 3s (its row or table locked by another session") {
			t.Errorf("WaitDurable while another session held the fence's row past the fence's 3 s: %v; "+
				"want an error wrapping ErrUnavailable that says the fence's row or table is locked", err)
		}
	})
	t.Run("the database does not answer", func(t *testing.T) {
		_, dsn := guardedTest(t)
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		proxy := faultproxy.Start(t, cfg.Addr)
		cfg.Addr = proxy.Addr()
		s, _ := openCounted(t, cfg.FormatDSN())
		if !s.Fences() {
			t.Skip("the binary log is on: no fence is written")
		}
		held, release := proxy.HoldAfter(func(chunk []byte) bool { return strings.Contains(string(chunk), "durability_fence") })
		err = s.Tail().WaitDurable(context.Background(), 1)
		select {
		case <-held:
			release()
		default:
			t.Fatalf("the fence never reached the proxy (WaitDurable: %v)", err)
		}
		if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "the durability fence got no answer from the database within 3s") ||
			strings.Contains(err.Error(), "locked by another session?") {
			t.Errorf("WaitDurable with the fence's statement held on its way: %v; "+
				"want an error wrapping ErrUnavailable that says the fence got no answer, and does not blame a lock", err)
		}
	})
}

// TestAFenceWithADeadlineThatMeetsALockSaysSo: a read's wait for
// durability (its caller has a deadline) whose fence the server ended for
// a lock another session holds on the fence's row (1205, its wait bounded
// to end before the deadline) was told "the database kept refusing the
// transaction", as an append retried to no end is: an operator looked at
// the writer, not at the session holding durability_fence's row. It says
// the fence's row or table is locked by another session.
func TestAFenceWithADeadlineThatMeetsALockSaysSo(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	if !s.Fences() {
		t.Skip("the binary log is on: no fence is written")
	}
	holdRowLock(ctx, t, s, otherProcessDB(t, dsn), "SELECT counter FROM durability_fence WHERE id = 1 FOR UPDATE")
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	err := s.Tail().WaitDurable(short, 1)
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "locked by another session") || strings.Contains(err.Error(), "kept refusing") {
		t.Errorf("WaitDurable with a 1.5 s deadline while another session held the fence's row: %v; "+
			"want an error wrapping ErrUnavailable that says the fence's row or table is locked by another session", err)
	}
}
