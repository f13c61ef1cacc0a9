package mysqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAnAppendToADatabaseThatDoesNotAnswerSaysSoNotThatTheLockWasBusy: with
// the database stalled (a mariadbd stopped with SIGSTOP; here, the proxy
// holding the append's locking read of the log's head), an append failed
// at its deadline saying "the write lock was not free within the request's
// time (lock_head: context deadline exceeded)", which sends an operator to
// look for a session holding the lock. No server reported a lock wait: the
// client's deadline ended a statement the database never answered. It
// says so now; a lock the server reported refused keeps its words.
func TestAnAppendToADatabaseThatDoesNotAnswerSaysSoNotThatTheLockWasBusy(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	s, _ := openCounted(t, dsn)
	held, release := proxy.HoldAfter(func(chunk []byte) bool { return bytes.Contains(chunk, []byte("FROM log_head h")) })
	defer func() {
		select {
		case <-held:
			release()
		default:
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// A stream the writer does not know: its group reads first, beginning
	// with the locking read of the log's head.
	_, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream)
	select {
	case <-held:
	default:
		t.Fatalf("the append's locking read of the log's head never went out (err %v)", err)
	}
	if !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrOutcomeUnknown) {
		t.Fatalf("an append whose database did not answer: %v; want an error wrapping ErrUnavailable, not of unknown outcome", err)
	}
	if !strings.Contains(err.Error(), "did not answer") || strings.Contains(err.Error(), "lock was not free") {
		t.Errorf("an append whose database did not answer: %q; want it to say the database did not answer in time, not that the write lock was busy", err)
	}
}
