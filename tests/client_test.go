package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/client"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// The Go client (package client) against the real binary, on both stores.

func newClient(t *testing.T, s *server, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(s.URL, opts...)
	if err != nil {
		t.Fatalf("client.New(%q): %v", s.URL, err)
	}
	return c
}

// TestClientAppendsWithExpectedVersionsAndTypedErrors: appends succeed,
// retries are told apart, and each refusal is its typed error.
func TestClientAppendsWithExpectedVersionsAndTypedErrors(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		c := newClient(t, s)
		order := client.StreamRef{ID: uuid.New(), Type: "order"}
		batch := []client.NewEvent{
			{ID: uuid.New(), Type: "OrderPlaced", Data: map[string]any{"total": 10}, Metadata: map[string]string{"correlation_id": "c-1"}},
			{ID: uuid.New(), Type: "OrderPaid", Data: map[string]any{"amount": 10}},
		}
		res, err := c.Append(ctx, order, client.NoStream, batch...)
		if err != nil || res.Version != 2 || res.Duplicate || len(res.Events) != 2 || res.Events[1].ID != batch[1].ID {
			t.Fatalf("Append to a new stream = %+v, %v; expected version 2 with both events, not a duplicate", res, err)
		}
		if res, err := c.Append(ctx, order, client.NoStream, batch...); err != nil || !res.Duplicate || res.Version != 2 {
			t.Fatalf("Append of the same batch again = %+v, %v; expected the original result, marked Duplicate", res, err)
		}

		_, err = c.Append(ctx, client.StreamRef{ID: order.ID}, client.Exactly(1), client.NewEvent{Type: "OrderShipped", Data: struct{}{}})
		var p *client.Problem
		if !errors.Is(err, client.ErrWrongExpectedVersion) || !errors.As(err, &p) || p.CurrentVersion != 2 || p.Status != 409 {
			t.Fatalf("Append expecting version 1 of a stream at 2: %v (%+v); expected ErrWrongExpectedVersion with CurrentVersion 2", err, p)
		}
		if _, err := c.Append(ctx, client.StreamRef{ID: uuid.New()}, client.StreamExists, client.NewEvent{Type: "X", Data: 1}); !errors.Is(err, client.ErrWrongExpectedVersion) {
			t.Errorf("Append expecting a missing stream to exist: %v; expected ErrWrongExpectedVersion", err)
		}
		if _, err := c.Append(ctx, client.StreamRef{ID: order.ID, Type: "invoice"}, client.Any, client.NewEvent{Type: "X", Data: 1}); !errors.Is(err, client.ErrStreamTypeMismatch) {
			t.Errorf("Append with another stream type: %v; expected ErrStreamTypeMismatch", err)
		}
		if _, err := c.Append(ctx, client.StreamRef{ID: uuid.New(), Type: "order"}, client.Any, batch[0]); !errors.Is(err, client.ErrDuplicateEventID) {
			t.Errorf("Append of another stream's event id: %v; expected ErrDuplicateEventID", err)
		}
		if _, err := c.Append(ctx, order, client.Any, client.NewEvent{Type: "9bad", Data: 1}); !errors.Is(err, client.ErrBadRequest) {
			t.Errorf("Append with a bad event type: %v; expected ErrBadRequest", err)
		}
		if res, err := c.Append(ctx, client.StreamRef{ID: order.ID}, client.Exactly(2), client.NewEvent{Type: "OrderShipped", Data: nil}); err != nil || res.Version != 3 {
			t.Fatalf("Append at the right version = %+v, %v; expected version 3", res, err)
		}
		st, err := c.Stream(ctx, order.ID)
		if err != nil || st.Version != 3 || st.Type != "order" || st.CreatedAt.IsZero() {
			t.Errorf("Stream = %+v, %v; expected an order stream at version 3", st, err)
		}
		if _, err := c.Stream(ctx, uuid.New()); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("Stream of a missing stream: %v; expected ErrNotFound", err)
		}
	})
}

// TestClientReadsPageByPage: ReadStream and ReadAll follow next links to
// the end, forward, backward and filtered.
func TestClientReadsPageByPage(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		c := newClient(t, s)
		order := client.StreamRef{ID: uuid.New(), Type: "order"}
		invoice := client.StreamRef{ID: uuid.New(), Type: "invoice"}
		for i := range 5 {
			evs := make([]client.NewEvent, 50)
			for j := range evs {
				evs[j] = client.NewEvent{Type: "Line", Data: map[string]int{"n": i*50 + j + 1}}
			}
			mustClientAppend(t, c, order, evs...)
			mustClientAppend(t, c, invoice, client.NewEvent{Type: "InvoiceIssued", Data: i})
		}

		var versions []int64
		for e, err := range c.ReadStream(ctx, order.ID, client.ReadStreamOptions{PageSize: 60}) {
			if err != nil {
				t.Fatalf("ReadStream: %v", err)
			}
			versions = append(versions, e.Version)
			if want := fmt.Sprintf(`{"n":%d}`, e.Version); string(e.Data) != want {
				t.Fatalf("ReadStream: version %d has data %s, expected %s", e.Version, e.Data, want)
			}
		}
		if len(versions) != 250 || !slices.IsSorted(versions) || versions[0] != 1 || versions[249] != 250 {
			t.Fatalf("ReadStream in pages of 60 gave %d versions (%v…); expected 1 to 250 in order", len(versions), versions[:min(5, len(versions))])
		}

		versions = versions[:0]
		for e, err := range c.ReadStream(ctx, order.ID, client.ReadStreamOptions{Direction: client.Backward, From: 100, PageSize: 30}) {
			if err != nil {
				t.Fatalf("ReadStream backward: %v", err)
			}
			versions = append(versions, e.Version)
		}
		if len(versions) != 100 || versions[0] != 100 || versions[99] != 1 {
			t.Fatalf("ReadStream backward from 100 gave %d versions (%v…); expected 100 down to 1", len(versions), versions[:min(5, len(versions))])
		}

		// Stopping early stops the requests too.
		n := 0
		for range c.ReadStream(ctx, order.ID, client.ReadStreamOptions{PageSize: 10}) {
			if n++; n == 3 {
				break
			}
		}

		for _, err := range c.ReadStream(ctx, uuid.New(), client.ReadStreamOptions{}) {
			if !errors.Is(err, client.ErrNotFound) {
				t.Errorf("ReadStream of a missing stream: %v; expected ErrNotFound", err)
			}
		}

		var last int64
		count := 0
		for e, err := range c.ReadAll(ctx, client.ReadAllOptions{StreamTypes: []string{"invoice"}, PageSize: 2}) {
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if e.StreamType != "invoice" || e.Position <= last {
				t.Fatalf("ReadAll of invoices: got a %s event at position %d after %d; expected invoices in position order", e.StreamType, e.Position, last)
			}
			last = e.Position
			count++
		}
		if count != 5 {
			t.Errorf("ReadAll of invoices in pages of 2 gave %d events; expected 5", count)
		}
		count = 0
		for _, err := range c.ReadAll(ctx, client.ReadAllOptions{After: 200, PageSize: 1000}) {
			if err != nil {
				t.Fatalf("ReadAll after 200: %v", err)
			}
			count++
		}
		if count != 55 {
			t.Errorf("ReadAll after position 200 of 255 gave %d events; expected 55", count)
		}
	})
}

// TestClientSendsItsToken: with access control on, the token opens reads,
// appends and subscriptions, and its absence or role are typed errors.
func TestClientSendsItsToken(t *testing.T) {
	t.Parallel()
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_API_TOKENS=app:write:w-0123456789abcdef,dash:read:r-0123456789abcdef")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ref := client.StreamRef{ID: uuid.New(), Type: "order"}
	ev := client.NewEvent{Type: "OrderPlaced", Data: 1}
	if _, err := newClient(t, s).Append(ctx, ref, client.Any, ev); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("Append without a token: %v; expected ErrUnauthorized", err)
	}
	if _, err := newClient(t, s, client.WithToken("r-0123456789abcdef")).Append(ctx, ref, client.Any, ev); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("Append with a read token: %v; expected ErrForbidden", err)
	}
	mustClientAppend(t, newClient(t, s, client.WithToken("w-0123456789abcdef")), ref, ev)
	reader := newClient(t, s, client.WithToken("r-0123456789abcdef"))
	if st, err := reader.Stream(ctx, ref.ID); err != nil || st.Version != 1 {
		t.Errorf("Stream with a read token = %+v, %v; expected version 1", st, err)
	}
	for m, err := range reader.Subscribe(ctx, client.SubscribeOptions{StreamID: ref.ID}) {
		if err != nil || m.Event.Version != 1 {
			t.Errorf("Subscribe with a read token: %+v, %v; expected version 1", m, err)
		}
		break
	}
	for _, err := range newClient(t, s).Subscribe(ctx, client.SubscribeOptions{}) {
		if !errors.Is(err, client.ErrUnauthorized) {
			t.Errorf("Subscribe without a token: %v; expected ErrUnauthorized", err)
		}
	}
}

// TestClientSubscriptionResumesAcrossARestart: a stream subscription and a
// filtered log subscription deliver history, caught-up and live events; the
// server stops, a successor starts on the same data and address, events
// are appended before and after they reconnect, and each subscription has
// every event once, in order.
func TestClientSubscriptionResumesAcrossARestart(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		env := k.ServerEnv
		s := startRestartableServer(t, append(slices.Clone(env), "TRIBUTARY_HEARTBEAT=1s")...)
		c := newClient(t, s)
		order := client.StreamRef{ID: uuid.New(), Type: "order"}
		invoice := client.StreamRef{ID: uuid.New(), Type: "invoice"}
		mustClientAppend(t, c, order, client.NewEvent{Type: "V1", Data: 1}, client.NewEvent{Type: "V2", Data: 2})
		mustClientAppend(t, c, invoice, client.NewEvent{Type: "Issued", Data: 1})

		disconnects := make(chan struct{}, 2)
		once := func() func(error, time.Duration) {
			var o sync.Once
			return func(error, time.Duration) { o.Do(func() { disconnects <- struct{}{} }) }
		}
		stream := collect(t, true, c.Subscribe(t.Context(), client.SubscribeOptions{StreamID: order.ID, OnDisconnect: once()}))
		logSub := collect(t, false, c.Subscribe(t.Context(), client.SubscribeOptions{StreamTypes: []string{"order"}, OnDisconnect: once()}))
		stream.expect(t, "history", "v1", "v2", "caught-up 2")
		logSub.expect(t, "history", "p1", "p2", "caught-up 3")
		mustClientAppend(t, c, order, client.NewEvent{Type: "V3", Data: 3})
		stream.expect(t, "a live event", "v3")
		logSub.expect(t, "a live event", "p4")

		port := s.URL[strings.LastIndexByte(s.URL, ':')+1:]
		if !rebindable(port) {
			t.Fatalf("the server listens on port %s, not one from freeport: its successor may find it taken", port)
		}
		if code, killed := s.terminate(); code != 0 || killed {
			t.Fatalf("server stopped with status %d (killed: %v); expected a clean exit", code, killed)
		}
		for range 2 { // both have seen the end
			select {
			case <-disconnects:
			case <-time.After(frameTimeout):
				t.Fatalf("a subscription did not notice within %s that its server stopped", frameTimeout)
			}
		}
		s2 := startServer(t, append(slices.Clone(s.StoreEnv), "TRIBUTARY_ADDR=127.0.0.1:"+port)...)
		mustClientAppend(t, c, invoice, client.NewEvent{Type: "Paid", Data: 2})
		mustClientAppend(t, c, order, client.NewEvent{Type: "V4", Data: 4})
		stream.expectEvents(t, "what came while it was away", true, "v4")
		logSub.expectEvents(t, "what came while it was away", true, "p6")
		mustClientAppend(t, newClient(t, s2), order, client.NewEvent{Type: "V5", Data: 5})
		stream.expectEvents(t, "a live event after the restart", true, "v5")
		logSub.expectEvents(t, "a live event after the restart", true, "p7")
	})
}

// TestClientSubscriptionRefusesAStartPastTheEnd: a starting point the
// server never reached ends the subscription with ErrStartingPointAhead,
// not with endless retries.
func TestClientSubscriptionRefusesAStartPastTheEnd(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		c := newClient(t, s)
		ref := client.StreamRef{ID: uuid.New(), Type: "order"}
		mustClientAppend(t, c, ref, client.NewEvent{Type: "A", Data: 1}, client.NewEvent{Type: "B", Data: 2})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for name, opts := range map[string]client.SubscribeOptions{
			"stream from version 9": {StreamID: ref.ID, From: 9},
			"log after position 9":  {After: 9},
		} {
			for m, err := range c.Subscribe(ctx, opts) {
				var p *client.Problem
				if !errors.Is(err, client.ErrStartingPointAhead) || !errors.As(err, &p) || p.Current != 2 {
					t.Errorf("%s: %+v, %v; expected ErrStartingPointAhead with Current 2", name, m, err)
				}
				break
			}
		}
	})
}

// TestClientSubscriptionWaitsOutA503: when the server has no room for
// another subscription it answers 503 with Retry-After; the client waits
// and gets in once there is room.
func TestClientSubscriptionWaitsOutA503(t *testing.T) {
	t.Parallel()
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_MAX_SUBSCRIBERS=1")
	c := newClient(t, s)
	ref := client.StreamRef{ID: uuid.New(), Type: "order"}
	mustClientAppend(t, c, ref, client.NewEvent{Type: "A", Data: 1})
	firstCtx, stopFirst := context.WithCancel(t.Context())
	first := collect(t, true, c.Subscribe(firstCtx, client.SubscribeOptions{StreamID: ref.ID}))
	first.expect(t, "the first subscription", "v1", "caught-up 1")

	refused := make(chan error, 1)
	second := collect(t, true, c.Subscribe(t.Context(), client.SubscribeOptions{StreamID: ref.ID,
		OnDisconnect: func(err error, wait time.Duration) {
			select {
			case refused <- err:
			default:
			}
		}}))
	select {
	case err := <-refused:
		var p *client.Problem
		if !errors.Is(err, client.ErrUnavailable) || !errors.As(err, &p) || p.RetryAfter <= 0 {
			t.Fatalf("the second subscription was refused with %v; expected ErrUnavailable with a Retry-After", err)
		}
	case <-time.After(frameTimeout):
		t.Fatal("the second subscription was not refused; expected a 503 while the first holds the only place")
	}
	stopFirst()
	second.expect(t, "the second subscription, once there is room", "v1", "caught-up 1")
}

func mustClientAppend(t *testing.T, c *client.Client, ref client.StreamRef, events ...client.NewEvent) *client.AppendResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Append(ctx, ref, client.Any, events...)
	if err != nil {
		t.Fatalf("Append to %s: %v", ref.ID, err)
	}
	return res
}

// collected is a subscription read by a goroutine of its own, its messages
// rendered as "v3" (a stream's event by version), "p7" (the log's by
// position), "caught-up N" or "error …".
type collected struct {
	msgs chan string
}

func collect(t *testing.T, byVersion bool, seq func(func(client.Message, error) bool)) *collected {
	t.Helper()
	c := &collected{msgs: make(chan string, 100)}
	go func() {
		for m, err := range seq {
			switch {
			case err != nil:
				c.msgs <- "error " + err.Error()
				return
			case m.CaughtUp:
				c.msgs <- fmt.Sprintf("caught-up %d", m.At)
			case byVersion:
				c.msgs <- fmt.Sprintf("v%d", m.Event.Version)
			default:
				c.msgs <- fmt.Sprintf("p%d", m.Event.Position)
			}
		}
	}()
	return c
}

// expect requires the next messages to be want, in order.
func (c *collected) expect(t *testing.T, what string, want ...string) {
	t.Helper()
	c.expectEvents(t, what, false, want...)
}

// expectEvents requires the next events to be want, in order, and skips
// caught-up messages if skipCaughtUp: after a reconnection, whether an
// event comes before or after caught-up depends on when it reconnected.
func (c *collected) expectEvents(t *testing.T, what string, skipCaughtUp bool, want ...string) {
	t.Helper()
	for _, w := range want {
		for {
			select {
			case got := <-c.msgs:
				if skipCaughtUp && strings.HasPrefix(got, "caught-up ") {
					continue
				}
				if got != w {
					t.Fatalf("%s: expected %s, got %s", what, w, got)
				}
			case <-time.After(3 * frameTimeout):
				t.Fatalf("%s: expected %s, got nothing within %s", what, w, 3*frameTimeout)
			}
			break
		}
	}
}

// TestClientAppendSendsRawDataAsIs: data and metadata given as
// json.RawMessage are sent as they are, and so stored and read back byte
// for byte, as the API stores data: not compacted, not HTML-escaped.
func TestClientAppendSendsRawDataAsIs(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		c := newClient(t, s)
		ref := client.StreamRef{ID: uuid.New(), Type: "page"}
		data := json.RawMessage(`{ "html": "<b>a & b</b>",  "n": [1, 2] }`)
		meta := json.RawMessage(`{"correlation_id": "<c-1>"}`)
		mustClientAppend(t, c, ref, client.NewEvent{Type: "Rendered", Data: data, Metadata: meta})
		for e, err := range c.ReadStream(ctx, ref.ID, client.ReadStreamOptions{}) {
			if err != nil {
				t.Fatalf("ReadStream: %v", err)
			}
			if string(e.Data) != string(data) || string(e.Metadata) != string(meta) {
				t.Errorf("stored data %s and metadata %s; expected them as sent: %s and %s", e.Data, e.Metadata, data, meta)
			}
		}
	})
}

// TestClientSubscriptionWaitsAtLeastRetryAfter: a refused subscription
// comes back no sooner than the 503's Retry-After.
func TestClientSubscriptionWaitsAtLeastRetryAfter(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		c := newClient(t, s)
		ref := client.StreamRef{ID: uuid.New(), Type: "order"}
		mustClientAppend(t, c, ref, client.NewEvent{Type: "A", Data: 1})
		first := collect(t, true, c.Subscribe(t.Context(), client.SubscribeOptions{StreamID: ref.ID}))
		first.expect(t, "the first subscription", "v1", "caught-up 1")

		type refusal struct {
			err  error
			wait time.Duration
		}
		refused := make(chan refusal, 10)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		collect(t, true, c.Subscribe(ctx, client.SubscribeOptions{StreamID: ref.ID, MinBackoff: 10 * time.Millisecond,
			OnDisconnect: func(err error, wait time.Duration) { refused <- refusal{err, wait} }}))
		for range 3 {
			select {
			case r := <-refused:
				var p *client.Problem
				if !errors.As(r.err, &p) || p.RetryAfter <= 0 {
					t.Fatalf("the second subscription was refused with %v; expected a 503 with a Retry-After", r.err)
				}
				if r.wait < p.RetryAfter {
					t.Fatalf("after a 503 with Retry-After %s the client waits %s; expected at least the Retry-After", p.RetryAfter, r.wait)
				}
			case <-time.After(frameTimeout):
				t.Fatal("the second subscription was not refused; expected a 503 while the first holds the only place")
			}
		}
	}, "TRIBUTARY_MAX_SUBSCRIBERS=1")
}

// TestClientSubscriptionKeepsASlowConsumersConnection: a consumer that
// takes longer than IdleTimeout over one event does not make the client
// take its connection, which keeps bringing keep-alives, for a dead one.
func TestClientSubscriptionKeepsASlowConsumersConnection(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		c := newClient(t, s)
		ref := client.StreamRef{ID: uuid.New(), Type: "order"}
		mustClientAppend(t, c, ref, client.NewEvent{Type: "A", Data: 1})
		disconnects := make(chan error, 10)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		for m, err := range c.Subscribe(ctx, client.SubscribeOptions{StreamID: ref.ID, IdleTimeout: time.Second,
			OnDisconnect: func(err error, _ time.Duration) { disconnects <- err }}) {
			if err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			if m.CaughtUp {
				mustClientAppend(t, c, ref, client.NewEvent{Type: "B", Data: 2})
				continue
			}
			if m.Event.Version == 2 {
				break
			}
			time.Sleep(2500 * time.Millisecond) // busy with the event, while keep-alives arrive
		}
		select {
		case err := <-disconnects:
			t.Errorf("the connection was dropped while the consumer was busy (%v); expected it kept: keep-alives arrived all along", err)
		default:
		}
	}, "TRIBUTARY_HEARTBEAT=200ms")
}

// TestClientReadsReuseTheirConnection: reading page after page, and then
// appending, goes over one connection: each answer is read to its end.
func TestClientReadsReuseTheirConnection(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		var dials atomic.Int32
		tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}
		t.Cleanup(tr.CloseIdleConnections)
		c := newClient(t, s, client.WithHTTPClient(&http.Client{Transport: tr}))
		ref := client.StreamRef{ID: uuid.New(), Type: "order"}
		evs := make([]client.NewEvent, 300)
		for i := range evs {
			evs[i] = client.NewEvent{Type: "Line", Data: map[string]int{"n": i}}
		}
		mustClientAppend(t, c, ref, evs...)
		n := 0
		for _, err := range c.ReadStream(ctx, ref.ID, client.ReadStreamOptions{PageSize: 100}) {
			if err != nil {
				t.Fatalf("ReadStream: %v", err)
			}
			n++
		}
		for _, err := range c.ReadAll(ctx, client.ReadAllOptions{PageSize: 100}) {
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			n++
		}
		if n != 600 {
			t.Fatalf("read %d events; expected 300 twice", n)
		}
		if d := dials.Load(); d != 1 {
			t.Errorf("an append and two reads of three pages each took %d connections; expected 1, each answer read to its end", d)
		}
	})
}

// TestClientSubscriptionResumesOnAnInstanceWhoseReplicaIsBehind: two
// instances behind a load balancer, one reading the primary and one a
// replica that is behind; a subscription that was served by the first and
// reconnects to the second resumes there, once its replica has the last
// event delivered, rather than end on a 409 starting-point-ahead: it sends
// that event's position as Tributary-Min-Position, which the instance
// waits for.
func TestClientSubscriptionResumesOnAnInstanceWhoseReplicaIsBehind(t *testing.T) {
	t.Parallel()
	primary, replica := startReplicaPair(t)
	onPrimary := startServer(t, "TRIBUTARY_MYSQL_DSN="+primary.DSN("tributary"))
	onReplica := startServer(t, "TRIBUTARY_MYSQL_DSN="+primary.DSN("tributary"), "TRIBUTARY_MYSQL_READ_DSN="+replica.DSN("tributary"))
	var target atomic.Pointer[url.URL]
	point := func(s *server) {
		u, err := url.Parse(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		target.Store(u)
	}
	point(onPrimary)
	toReplica := make(chan struct{}, 10)
	lb := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		u := target.Load()
		if u.String() != onPrimary.URL {
			toReplica <- struct{}{}
		}
		r.SetURL(u)
	}, FlushInterval: -1})
	t.Cleanup(lb.Close)

	c := newClient(t, onPrimary)
	ref := client.StreamRef{ID: uuid.New(), Type: "order"}
	mustClientAppend(t, c, ref, client.NewEvent{Type: "V1", Data: 1})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for { // the replica has the first event, and then stops applying
		if st, err := newClient(t, onReplica).Stream(ctx, ref.ID); err == nil && st.Version == 1 {
			break
		} else if ctx.Err() != nil {
			t.Fatalf("the replica did not get the first event within 20 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	replica.Exec(t, "STOP SLAVE SQL_THREAD")
	mustClientAppend(t, c, ref, client.NewEvent{Type: "V2", Data: 2})

	sub := collect(t, true, newClient(t, &server{URL: lb.URL}).Subscribe(t.Context(), client.SubscribeOptions{StreamID: ref.ID, MinBackoff: 100 * time.Millisecond}))
	sub.expect(t, "history, from the instance on the primary", "v1", "v2", "caught-up 2")
	point(onReplica)
	lb.CloseClientConnections() // the next connection reaches the instance behind
	select {
	case <-toReplica:
	case <-time.After(frameTimeout):
		t.Fatalf("the subscription did not reconnect within %s", frameTimeout)
	}
	time.Sleep(500 * time.Millisecond) // answered there, or waiting for the replica
	replica.Exec(t, "START SLAVE SQL_THREAD")
	mustClientAppend(t, c, ref, client.NewEvent{Type: "V3", Data: 3})
	sub.expectEvents(t, "a live event, from the instance on the replica", true, "v3")
}
