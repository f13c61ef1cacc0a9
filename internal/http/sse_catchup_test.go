package http_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestStalledCatchingUpClientsHoldOnlyTheirPlaceInTheCatchUpBudget: clients
// that stop reading during their history each held the page they were
// being sent, unbounded in all. Over HTTP, with a catch-up budget of two
// places, stalled clients now hold at most the budget between them; a client
// that reads still gets every event once, in order, once the stall timeout
// has cut them. On both stores.
func TestStalledCatchingUpClientsHoldOnlyTheirPlaceInTheCatchUpBudget(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		data := fmt.Appendf(nil, `{"pad":"%s"}`, strings.Repeat("x", 128<<10))
		var last int64
		for range 4 {
			res, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
				Events: []eventstore.NewEvent{{Type: "X", Data: data}, {Type: "X", Data: data}, {Type: "X", Data: data}, {Type: "X", Data: data}}})
			if err != nil {
				t.Fatal(err)
			}
			last = res.Events[len(res.Events)-1].Position
		}
		const budget = 3 << 20 // two places, with events of at most 150 KiB
		feed := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond, MaxEventBytes: 150 << 10, CatchUpBytes: budget})
		_, srv := serveFeed(t, feed, store, esthttp.Options{Heartbeat: time.Second, StallTimeout: 2 * time.Second}, func(l net.Listener) net.Listener {
			return esthttp.SmallSendBuffers{l.(*net.TCPListener)}
		})

		for range 6 {
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			c.(*net.TCPConn).SetReadBuffer(4096) //nolint:errcheck // a hint
			fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
		}
		// The stalled clients take what the budget lets them (two places),
		// and the others wait for one: the state checked, until the stall
		// timeout cuts the first two. A budget that let them all in would
		// never keep one waiting, and would hold more than it may.
		untilState(t, "a stalled client to wait for a place in the catch-up budget", func() bool {
			return feed.CatchUpWaiting() > 0 || feed.CatchUpBytes() > budget
		})
		if held := feed.CatchUpBytes(); held > budget || held == 0 {
			t.Errorf("six stalled clients, %d of them waiting for a place, held %d bytes of the catch-up budget; want at most %d, and more than none",
				feed.CatchUpWaiting(), held, budget)
		}

		req, _ := http.NewRequest("GET", srv.URL+"/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		done := make(chan error, 1)
		go func() {
			p := ssetest.NewParser(bufio.NewReader(resp.Body), "")
			want := int64(1)
			for want <= last {
				f, _, err := p.Next()
				if err != nil {
					done <- fmt.Errorf("after position %d: %w", want-1, err)
					return
				}
				if !f.HasData || f.Event != "" {
					continue
				}
				if f.ID != strconv.FormatInt(want, 10) {
					done <- fmt.Errorf("frame id %q, want %d: every event once, in order", f.ID, want)
					return
				}
				want++
			}
			done <- nil
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("a client that reads, behind six stalled ones: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a client that reads did not get its history within 20 s; the stalled ones are cut after 2 s")
		}
	})
}

// untilState polls cond, which says a state the server holds to until the
// test moves (clients stalled, or waiting for a place), with no bound of
// its own: a machine under load only takes longer. A state never reached
// fails the test just before its binary's deadline, saying what it waited
// for.
func untilState(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline, bounded := t.Deadline()
	for !cond() {
		if bounded && time.Until(deadline) < 5*time.Second {
			t.Fatalf("never reached: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
