package sqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAReadStatementEndsAtItsBoundWhateverItsCaller: a page read over HTTP
// is bounded by the request's timeout, but a subscription's read of history
// (and the live feed's of the log) comes with a context that never ends: a
// statement that stalled, behind a table lock or on a plan that reads a
// whole index, held its connection, and the subscription, for ever. (A
// hostile review found it.) Every read statement is now bounded (at most
// readTimeout), whatever its caller's context. On MariaDB a read waits
// behind another session's LOCK TABLES … WRITE and ends at its bound; on
// SQLite, whose reads in WAL mode wait for no lock, a bound already passed
// ends it at once. The reads of one row (an event, its position, the id
// at a position: the live feed's) too.
func TestAReadStatementEndsAtItsBoundWhateverItsCaller(t *testing.T) {
	t.Parallel()
	for name, db := range bothDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			stream := uuid.New()
			writeStream(ctx, t, db, stream, 3)
			r := reader{db: db, translate: func(err error) error { return err }, sizes: new(eventSizes), timeout: time.Nanosecond}
			if name == "mysql" {
				r.timeout = 500 * time.Millisecond
				lock, err := db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer lock.Close()
				if _, err := lock.ExecContext(ctx, "LOCK TABLES events WRITE, streams WRITE, log_head WRITE"); err != nil {
					t.Fatal(err)
				}
				defer lock.ExecContext(context.Background(), "UNLOCK TABLES") //nolint:errcheck
			}
			for what, read := range map[string]func(context.Context) error{
				"ReadAll": func(ctx context.Context) error {
					page, err := r.ReadAll(ctx, eventstore.ReadAllOptions{StreamTypes: []string{"thing"}, Limit: 10})
					if err == nil {
						for _, err = range page.Events {
							if err != nil {
								break
							}
						}
					}
					return err
				},
				"ReadStream": func(ctx context.Context) error {
					_, err := r.ReadStream(ctx, stream, eventstore.ReadStreamOptions{})
					return err
				},
				"Head":  func(ctx context.Context) error { _, err := r.Head(ctx); return err },
				"Event": func(ctx context.Context) error { _, err := r.Event(ctx, stream, 2); return err },
				// A stream subscription's start from a version, and the live
				// feed's check of its head at each poll: bound by the read
				// statement's bound alone (scanRow's) since their own went.
				"EventPosition": func(ctx context.Context) error { _, err := r.EventPosition(ctx, stream, 2); return err },
				"IDAt":          func(ctx context.Context) error { _, err := (logTail{reader: r}).IDAt(ctx, 2); return err },
			} {
				done := make(chan error, 1)
				start := time.Now()
				go func() { done <- read(context.Background()) }() // a subscription's: it never ends
				select {
				case err := <-done:
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("%s with its statement bound at %v: %v after %v, want it to end with context.DeadlineExceeded", what, r.timeout, err, time.Since(start))
					}
				case <-time.After(20 * time.Second):
					t.Fatalf("%s still waits after 20 s, its statement bound at %v", what, r.timeout)
				}
			}
		})
	}
}
