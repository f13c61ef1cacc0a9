package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// droppingStore is a store whose events table can be made missing, as
// dropping it does to a MySQL store: every read then fails with the
// store's eventstore.MissingError. (SQLite has no such error: its file is
// the database, and a table dropped by hand in it is a plain failure.)
type droppingStore struct {
	eventstore.Store
	dropped *atomic.Bool
}

var errDropped = &eventstore.MissingError{Table: "events", Err: errors.New("table 'events' doesn't exist")}

func (d droppingStore) err() error {
	if d.dropped.Load() {
		return errDropped
	}
	return nil
}

func (d droppingStore) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if err := d.err(); err != nil {
		return eventstore.LogPage{}, err
	}
	return d.Store.ReadAll(ctx, opts)
}

func (d droppingStore) Head(ctx context.Context) (int64, error) {
	if err := d.err(); err != nil {
		return 0, err
	}
	return d.Store.Head(ctx)
}

func (d droppingStore) EventPosition(ctx context.Context, id uuid.UUID, version int64) (int64, error) {
	if err := d.err(); err != nil {
		return 0, err
	}
	return d.Store.EventPosition(ctx, id, version)
}

func (d droppingStore) Tail() eventstore.LogTail { return droppingTail{d.Store.Tail(), d} }

type droppingTail struct {
	eventstore.LogTail
	d droppingStore
}

func (t droppingTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if err := t.d.err(); err != nil {
		return eventstore.LogPage{}, err
	}
	return t.LogTail.ReadAll(ctx, opts)
}

func (t droppingTail) Head(ctx context.Context) (int64, error) {
	if err := t.d.err(); err != nil {
		return 0, err
	}
	return t.LogTail.Head(ctx)
}

// TestSubscriptionsEndWhenTheDatabaseIsMissing drops the events table under
// open subscriptions (on MySQL for real; on SQLite, which has no such error,
// through a store that answers as MySQL's does). A missing table is not an
// outage that passes: the operator must restore the database. The tailer
// retried each poll, and subscriptions that were live got keep-alives for
// ever, one opening then retried its start for ever: their clients never
// learnt anything was wrong. Each must end, as when the log goes back, so
// that its client reconnects and is answered the 503 that names what is
// missing.
func TestSubscriptionsEndWhenTheDatabaseIsMissing(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		dropped := &atomic.Bool{}
		f, _ := runFeedThatLooksWhenTold(t, droppingStore{store, dropped})
		live := subscribeCaughtUp(t, f, "the live subscription")
		checkLog(t, "the live subscription", live, appendToNewStreams(t, f.Notifying(store), 3))

		if k.Name == teststore.MySQL.Name {
			k.Exec(t, store, "DROP TABLE events")
		} else {
			dropped.Store(true)
		}
		opening, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
		f.Notify()
		for name, c := range map[string]*collector{"the live subscription": live, "a subscription opened after": opening} {
			waitFor(t, 30*time.Second, name+" to end once the events table is missing", func() bool {
				_, _, _, closed := c.snapshot()
				return closed
			})
			// Ended for what is missing, which its client is told: not for
			// any reason at all.
			var missing *eventstore.MissingError
			if err := c.ended(); !errors.As(err, &missing) || missing.Table != "events" {
				t.Errorf("%s ended with %v; want the store's MissingError naming the events table", name, err)
			}
		}
	})
}

// TestAFilteredSubscriptionEndsWhenTheIndexItReadsIsDropped: a
// subscription filtered on several stream types reads its history through
// an index the read names (FORCE INDEX, INDEXED BY). With it dropped while
// the server ran, the read failed (on MySQL a bare driver error, on SQLite
// a plain unavailable one), and the subscription retried for ever ("cannot
// read history; retrying"), its client on an open 200 that never caught
// up. It ends with the store's MissingError naming the index, as for a
// table dropped: its client reconnects and is told.
func TestAFilteredSubscriptionEndsWhenTheIndexItReadsIsDropped(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		// Before the feed starts: below its head, the subscription reads
		// its history from the store, not from the live buffer.
		appendToNewStreams(t, store, 3)
		f, _ := runFeedThatLooksWhenTold(t, store)
		k.Exec(t, store, fmt.Sprintf(k.DropIndex, "events_stream_type_position"))
		c, _ := subscribe(t, f, eventstore.SubscribeOptions{StreamTypes: []string{"thing", "other"}}, 0)
		waitFor(t, 30*time.Second, "the filtered subscription to end once its index is missing", func() bool {
			_, _, _, closed := c.snapshot()
			return closed
		})
		var missing *eventstore.MissingError
		if err := c.ended(); !errors.As(err, &missing) || missing.Index != "events_stream_type_position" {
			t.Errorf("the filtered subscription ended with %v; want the store's MissingError naming events_stream_type_position", err)
		}
	})
}
