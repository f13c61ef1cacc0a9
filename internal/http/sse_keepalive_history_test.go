package http_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestSubscriptionsWaitingOnTheirReadOfHistoryGetKeepAlives: a subscription
// whose read of history waited on the database (a table another session
// holds locked, a slow query, a full read pool), or waited for its turn to
// read (fanout's CatchUpReads), sent nothing until the read returned: no
// keep-alive. A client that watches them (the page reconnects after three
// missed heartbeats; a proxy's idle timeout) gave up on it, and reconnected
// again and again to a read that waits as long. Each must get keep-alives
// at the heartbeat interval while it waits, then the events once the
// database answers. On MySQL behind a real table lock; on SQLite, whose
// reads no writer blocks, behind a store whose reads of history wait.
func TestSubscriptionsWaitingOnTheirReadOfHistoryGetKeepAlives(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		var base eventstore.Store
		var dsn string
		if k.Name == teststore.MySQL.Name {
			dsn = mysqltest.NewDatabase(t)
			base = teststore.OpenMySQL(t, dsn)
		} else {
			base = k.Open(t)
		}
		// History before the feed starts: the live buffer never holds it,
		// and every subscription reads it from the store.
		if _, err := base.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "X", Data: []byte(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
		store := &heldHistory{Store: base}
		// One read of history at a time: the second subscription waits its
		// turn behind the first, which waits on the database.
		feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond, CatchUpReads: 1})
		feedCtx, stopFeed := context.WithCancel(context.Background())
		t.Cleanup(stopFeed)
		go feed.Run(feedCtx)
		const heartbeat = 100 * time.Millisecond
		h := esthttp.New(feed.Notifying(base), esthttp.Options{Feed: feed, Heartbeat: heartbeat})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		t.Cleanup(h.CloseSubscriptions)
		// The feed is ready (its tailer knows the head) before the database stalls.
		first, _, _ := rawSubscribe(t, srv, "HTTP/1.1", 0, nil)
		first.Close()

		var release func()
		if k.Name == teststore.MySQL.Name {
			release = lockTable(t, dsn, "events")
		} else {
			release = store.hold()
			t.Cleanup(release)
		}
		var subs []*ssetest.Parser
		for range 2 {
			req, _ := http.NewRequest("GET", srv.URL+"/events", nil)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resp.Body.Close() })
			subs = append(subs, ssetest.NewParser(resp.Body, ""))
		}
		for i, p := range subs {
			for alive := 0; alive < 3; {
				f := nextFrame(t, p, "a subscription waiting on its read of history")
				switch {
				case f.IsComment():
					alive++
				case f.Retry != "":
				default:
					t.Fatalf("subscription %d: got %s while its read of history waits on the database; want keep-alives only", i+1, f)
				}
			}
		}
		release()
		deadline := time.Now().Add(time.Minute) // a bound on a hang only
		for i, p := range subs {
			for {
				if time.Now().After(deadline) {
					t.Fatalf("subscription %d: no caught-up a minute after the database answered", i+1)
				}
				f := nextFrame(t, p, "the subscription to catch up once the database answers")
				if f.Event == "caught-up" {
					break
				}
				if !f.IsComment() && f.Data != "" && !f.HasID {
					t.Fatalf("subscription %d: got %s; want the event, then caught-up", i+1, f)
				}
			}
		}
	})
}

// heldHistory is a store whose reads of history, while held, wait until
// they are released or their context ends: SQLite's reads, which no writer
// blocks, held as a table lock holds MySQL's.
type heldHistory struct {
	eventstore.Store
	gate atomic.Pointer[chan struct{}]
}

// hold holds the reads of history from now on, until the func it returns
// (also called at cleanup) releases them.
func (h *heldHistory) hold() (release func()) {
	gate := make(chan struct{})
	h.gate.Store(&gate)
	var once sync.Once
	release = func() {
		once.Do(func() {
			h.gate.Store(nil)
			close(gate)
		})
	}
	return release
}

func (h *heldHistory) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if gate := h.gate.Load(); gate != nil {
		select {
		case <-*gate:
		case <-ctx.Done():
			return eventstore.LogPage{}, fmt.Errorf("read log after %d: %w", opts.After, ctx.Err())
		}
	}
	return h.Store.ReadAll(ctx, opts)
}

// nextFrame reads p's next frame, failing the test if none comes in a
// minute (a bound on a hang only).
func nextFrame(t *testing.T, p *ssetest.Parser, what string) ssetest.Frame {
	t.Helper()
	type got struct {
		f   ssetest.Frame
		err error
	}
	c := make(chan got, 1)
	go func() {
		f, _, err := p.Next()
		c <- got{f, err}
	}()
	select {
	case g := <-c:
		if g.err != nil {
			t.Fatalf("waiting for %s: %v", what, g.err)
		}
		return g.f
	case <-time.After(time.Minute):
		t.Fatalf("waiting for %s: no frame in a minute", what)
	}
	panic("unreachable")
}

// lockTable holds a write lock on table from a session of the test's own,
// as a migration or a report does: every other session's read of it waits.
// It returns a func that releases it (also called at cleanup).
func lockTable(t *testing.T, dsn, table string) (release func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "LOCK TABLES "+table+" WRITE"); err != nil {
		t.Fatalf("lock %s: %v", table, err)
	}
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		conn.ExecContext(context.Background(), "UNLOCK TABLES") //nolint:errcheck // only held
		conn.Close()
		db.Close()
	}
	t.Cleanup(release)
	return release
}
