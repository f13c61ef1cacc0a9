package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnAppendQueuedBehindAGroupWaitingForTheWriteLockSaysWhatItWaitedFor:
// another program holds the embedded file's write lock (an sqlite3
// shell's write transaction), and a group waits in BEGIN IMMEDIATE for
// it. An append that came meanwhile waits for the writer, and its time
// ended there: it was told "context deadline exceeded", no word of what
// it waited for, nor ErrUnavailable, where the group's own appends say
// the write lock was not free. It says that its time ended while the
// writer was busy with the appends before it, and that it was not
// written; the append with time left is written once the lock is let go.
func TestAnAppendQueuedBehindAGroupWaitingForTheWriteLockSaysWhatItWaitedFor(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	store, lock, waits := openLocked(t, "sqlite", m)
	append := func(ctx context.Context, done chan<- error) {
		_, err := store.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing", Expected: eventstore.NoStream,
			Events: []eventstore.NewEvent{{Type: "happened", Data: []byte(`{}`)}}})
		done <- err
	}
	long, cancelLong := context.WithTimeout(context.Background(), time.Minute)
	defer cancelLong()
	longDone := make(chan error, 1)
	go append(long, longDone)
	for deadline := time.Now().Add(time.Minute); teststore.Statements(t, m, waits) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first append's %s was never sent", waits)
		}
	}
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	shortDone := make(chan error, 1)
	go append(short, shortDone)
	err := <-shortDone
	if !errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "the writer was busy with the appends before it") {
		t.Errorf("an append whose time ended while it waited for the writer, busy with a group waiting for the write lock: %v; "+
			"want ErrUnavailable and the deadline, saying the writer was busy with the appends before it", err)
	}
	select {
	case err := <-longDone:
		t.Fatalf("the append with time left was answered while the lock was still held: %v", err)
	default:
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-longDone; err != nil {
		t.Errorf("the append with time left, once the lock was let go: %v; want it written", err)
	}
}
