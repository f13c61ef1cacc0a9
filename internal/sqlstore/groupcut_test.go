package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnAppendIsNotCutShortWhenAnotherCallersTimeEndsWhileItsGroupWaits:
// two appends go as one group while another session holds the log's write
// lock, one with two seconds to wait, the other with twenty. The group's
// try waits for the lock until the first one's time ends, and then both
// failed: the other, with most of its time left, was told the database
// did not answer in time, though the lock was freed well within its time.
// The first is answered, and the group goes on for the other, which is
// written once the lock is free. On both stores.
func TestAnAppendIsNotCutShortWhenAnotherCallersTimeEndsWhileItsGroupWaits(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"mysql", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			m := metrics.New("test")
			store, lock, waitStatement := openLocked(t, kind, m)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			appendOne := func(ctx context.Context, wait time.Duration, out chan<- error) {
				actx, cancel := context.WithTimeout(ctx, wait)
				defer cancel()
				_, err := store.Append(actx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing", Expected: eventstore.NoStream,
					Events: []eventstore.NewEvent{{Type: "happened", Data: []byte(`{}`)}}})
				out <- err
			}
			// A first append, which waits for the lock until its time is
			// up, so that the two queue behind it and go as one group.
			first, short, long := make(chan error, 1), make(chan error, 1), make(chan error, 1)
			go appendOne(ctx, time.Second, first)
			for teststore.Statements(t, m, waitStatement) == 0 {
				select {
				case err := <-first:
					t.Fatalf("the first append returned before its reads were sent: %v", err)
				case <-time.After(5 * time.Millisecond):
				}
			}
			go appendOne(ctx, 2*time.Second, short)
			go appendOne(ctx, 20*time.Second, long)
			if err := <-first; err == nil {
				t.Fatal("the first append, while another session holds the write lock: no error")
			}
			if err := <-short; !errors.Is(err, eventstore.ErrUnavailable) {
				t.Errorf("the append with 2 s to wait for the write lock held until it returns: %v; want an error wrapping ErrUnavailable", err)
			}
			if err := lock.Rollback(); err != nil {
				t.Fatal(err)
			}
			if err := <-long; err != nil {
				t.Errorf("the append with 20 s to wait, grouped with one with 2 s, the lock freed once that one returned: %v; want it written", err)
			}
		})
	}
}
