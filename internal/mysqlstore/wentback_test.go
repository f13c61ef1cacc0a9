package mysqlstore_test

import (
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestALogThatWentBackIsNotCountedDurable: with the binary log off, the
// store counts the positions it knows to be on disk (a fence's, or its own
// COMMIT's), and fences only for one past them. That mark only rose: after
// the database was restored under the process to an older head, positions
// it had counted were taken again by other commits (another process's
// appends here, a restore's own), and the live feed handed those out, and
// reads answered them, with no fence, while a crash could still take them
// back. Once the live feed has found the log gone back, the store must
// fence again before it counts them.
func TestALogThatWentBackIsNotCountedDurable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := mysqltest.NewDatabase(t)
	s := teststore.OpenMySQL(t, dsn)
	if !s.Fences() {
		t.Skip("the server's binary log is on: commits are durable before they are visible, and nothing is fenced")
	}
	logged := &testlog.Buffer{}
	f := fanout.New(s, fanout.Options{PollInterval: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logged, nil))})
	feedCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { f.Run(feedCtx); close(stopped) }()
	t.Cleanup(func() { stop(); <-stopped })

	appendOne := func(s eventstore.Store) {
		t.Helper()
		if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "T",
			Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		appendOne(s)
	}
	// A subscription has them all: the feed has handed out up to 5.
	sub := f.Subscribe(eventstore.SubscribeOptions{})
	defer sub.Close()
	for delivered := 0; ; {
		if err := sub.Next(ctx, func(d eventstore.Delivery) error {
			if d.Event != nil {
				delivered++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if delivered == 5 {
			break
		}
		select {
		case <-sub.Ready():
		case <-ctx.Done():
			t.Fatalf("the subscription got %d of the 5 events", delivered)
		}
	}
	// The database restored to an older backup, whose head is 3.
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{
		"DELETE FROM events WHERE position > 3",
		"DELETE FROM streams WHERE stream_id NOT IN (SELECT stream_id FROM events)",
		"UPDATE log_head SET position = 3 WHERE id = 1",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for !strings.Contains(logged.String(), "the log went back from 5 to 3") {
		if ctx.Err() != nil {
			t.Fatalf("the feed did not notice the log going back from 5 to 3; it logged %q", logged.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Another process appends at positions 4 and 5 again.
	counter := fenceCommits(ctx, t, s)
	before := counter()
	other := teststore.OpenMySQL(t, dsn)
	for range 2 {
		appendOne(other)
	}
	if err := s.Tail().WaitDurable(ctx, 5); err != nil {
		t.Fatalf("WaitDurable(5): %v", err)
	}
	if got := counter(); got <= before {
		t.Fatalf("the fence counter stayed at %d while the store took positions 4 and 5 of the log as it is now for durable; "+
			"want a fence (by the feed or by this wait): they are other commits than those it counted before the log went back", got)
	}
}
