package fanout_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// quotingStore is a store whose reads fail, when told, with an error that
// quotes what a client sent (a stream id, as a store's errors do): the
// tailer's (tail), a subscription's start (head) and its page (page).
type quotingStore struct {
	eventstore.Store
	tail, head, page atomic.Pointer[error]
}

func failWith(p *atomic.Pointer[error], err error) {
	if err == nil {
		p.Store(nil)
		return
	}
	p.Store(&err)
}

func (q *quotingStore) Head(ctx context.Context) (int64, error) {
	if err := q.head.Load(); err != nil {
		return 0, *err
	}
	return q.Store.Head(ctx)
}

func (q *quotingStore) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if err := q.page.Load(); err != nil {
		return eventstore.LogPage{}, *err
	}
	return q.Store.ReadAll(ctx, opts)
}

func (q *quotingStore) Tail() eventstore.LogTail { return quotingTail{q.Store.Tail(), q} }

type quotingTail struct {
	eventstore.LogTail
	q *quotingStore
}

func (t quotingTail) Head(ctx context.Context) (int64, error) {
	if err := t.q.tail.Load(); err != nil {
		return 0, *err
	}
	return t.LogTail.Head(ctx)
}

func (t quotingTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if err := t.q.tail.Load(); err != nil {
		return eventstore.LogPage{}, *err
	}
	return t.LogTail.ReadAll(ctx, opts)
}

// TestEveryLineTheFeedLogsIsRedacted: a client may send its token where a
// stream id goes (a UUID token), and a store's error quotes the stream id:
// the feed's warnings wrote such errors as they were, where the HTTP layer
// redacts every line it logs. Each line the feed logs now goes through
// Options.Redact: the tailer's failures at start, while it polls and for a
// damaged database, a subscription's failed reads of its start and of
// history, and the panic of a read whose subscription closed. On both
// stores.
func TestEveryLineTheFeedLogsIsRedacted(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		secret := uuid.New()
		quoted := func(what string) error { return fmt.Errorf("%s: no stream %s here", what, secret) }
		redact := func(s string) string { return strings.ReplaceAll(s, secret.String(), "REDACTED") }
		store := k.Open(t)
		appendN(t, store, uuid.New(), "X", 2) // history to read
		q := &quotingStore{Store: store}
		logged := &testlog.Buffer{}
		failWith(&q.tail, quoted("the tailer's start"))
		f := runFeed(t, q, fanout.Options{PollInterval: 10 * time.Millisecond, Redact: redact,
			Logger: slog.New(slog.NewTextHandler(logged, nil))})
		until := func(line string) {
			t.Helper()
			waitFor(t, 30*time.Second, "the feed to log "+line, func() bool { return strings.Contains(logged.String(), line) })
		}
		until("cannot read the log head")
		failWith(&q.tail, nil)

		failWith(&q.head, quoted("a subscription's start"))
		c, _ := subscribe(t, f, eventstore.SubscribeOptions{StreamID: secret}, 0)
		until("cannot read its starting point")
		failWith(&q.page, quoted("a page of history"))
		failWith(&q.head, nil)
		until("cannot read history")
		failWith(&q.page, nil)
		waitFor(t, 30*time.Second, "the subscription to catch up", func() bool { _, cu, _, _ := c.snapshot(); return len(cu) == 1 })

		failWith(&q.tail, quoted("a poll"))
		until("cannot read new events")
		failWith(&q.tail, nil)
		until("reading new events again")
		failWith(&q.tail, fmt.Errorf("%w: %w", quoted("a damaged poll"), eventstore.ErrDamaged))
		until("the database is missing or damaged")

		out := logged.String()
		if strings.Contains(out, secret.String()) {
			t.Errorf("the feed logged the stream id a client sent (a token, as it may be) unredacted:\n%s", out)
		}
		if n := strings.Count(out, "REDACTED"); n < 5 {
			t.Errorf("the feed logged REDACTED %d times; want it in each of its five failures' lines:\n%s", n, out)
		}
	})
}

// TestAPanicOfAReadWhoseSubscriptionClosedIsLoggedRedacted: the panic's
// value and stack, which may quote what a client sent, are logged through
// Options.Redact too. On SQLite: the store answers nothing here.
func TestAPanicOfAReadWhoseSubscriptionClosedIsLoggedRedacted(t *testing.T) {
	t.Parallel()
	store := teststore.SQLite.Open(t)
	appendN(t, store, uuid.New(), "X", 3)
	p := &panicsWhenLetGo{Store: store, began: make(chan struct{}, 1)}
	logged := &testlog.Buffer{}
	redact := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "store bug", "REDACTED"), "panicsWhenLetGo", "REDACTED")
	}
	f := runFeed(t, p, fanout.Options{PollInterval: 10 * time.Millisecond, Redact: redact,
		Logger: slog.New(slog.NewTextHandler(logged, nil))})
	sub := f.Subscribe(eventstore.SubscribeOptions{})
	untilAReadBegins(t, sub, p.began)
	sub.Close()
	waitFor(t, 30*time.Second, "the panic to be logged", func() bool { return strings.Contains(logged.String(), "panicked") })
	out := logged.String()
	if strings.Contains(out, "store bug") || strings.Contains(out, "panicsWhenLetGo") {
		t.Errorf("the panic's value or stack was logged unredacted:\n%s", out)
	}
	if !strings.Contains(out, "REDACTED after a cancel") {
		t.Errorf("the panic's value was not logged through Redact:\n%s", out)
	}
}
