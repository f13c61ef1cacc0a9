package http_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// subscribeSending opens a subscription to GET /events over a connection of
// its own, sending before (in the same write as the request) and after (once
// it is live) what the test says, and reads up to the caught-up frame.
func subscribeSending(t *testing.T, addr, before string) (net.Conn, *http.Response, *ssetest.Parser) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"+before); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("subscribing: status %d", resp.StatusCode)
	}
	p := ssetest.NewParser(resp.Body, "")
	for {
		f, _, err := p.Next()
		if err != nil {
			t.Fatalf("reading up to caught-up: %v", err)
		}
		if f.Event == "caught-up" {
			return c, resp, p
		}
	}
}

// TestEmptyLinesAfterASubscriptionsRequestAreIgnored: RFC 9112 §2.2 asks a
// server to ignore at least one empty line before a request, and some
// clients send a CRLF after theirs. A subscription was ended by one, sent
// with the request or once it was live, as if it were a pipelined request.
// A few empty lines (CRLF or LF) are now let be, and the subscription gets
// the events that follow; a real request, with or without empty lines
// before it, and an endless run of them still end it. On both stores.
func TestEmptyLinesAfterASubscriptionsRequestAreIgnored(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store, _, srv := liveServerOf(t, k, esthttp.Options{Heartbeat: time.Hour}, nil)
		addr := srv.Listener.Addr().String()
		for _, tc := range []struct {
			name, before, after string
			ended               bool
		}{
			{name: "a CRLF with the request", before: "\r\n"},
			{name: "an LF with the request", before: "\n"},
			{name: "a CRLF once live", after: "\r\n"},
			{name: "empty lines with the request and once live", before: "\r\n\n", after: "\r\n\r\n"},
			{name: "a request after a CRLF, with the request", before: "\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", ended: true},
			{name: "a request after a CRLF, once live", after: "\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", ended: true},
			{name: "a CR alone, once live", after: "\rX", ended: true},
			{name: "many empty lines, once live", after: strings.Repeat("\r\n", 100), ended: true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c, resp, p := subscribeSending(t, addr, tc.before)
				if tc.after != "" {
					time.Sleep(50 * time.Millisecond) // it has taken its connection over by now
					if _, err := io.WriteString(c, tc.after); err != nil {
						t.Fatal(err)
					}
				}
				if tc.ended {
					c.SetReadDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
					if _, err := io.Copy(io.Discard, resp.Body); errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatalf("sent %q: the subscription still runs 5 s later; want it ended", tc.before+tc.after)
					}
					return
				}
				time.Sleep(50 * time.Millisecond) // the server has seen what was sent
				res, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
					Events: []eventstore.NewEvent{{Type: "X", Data: []byte(`{}`)}}})
				if err != nil {
					t.Fatal(err)
				}
				want := strconv.FormatInt(res.Events[0].Position, 10)
				c.SetReadDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
				for {
					f, _, err := p.Next()
					if err != nil {
						t.Fatalf("sent %q: the subscription ended (%v) before the event at position %s; want empty lines ignored", tc.before+tc.after, err, want)
					}
					if f.ID == want {
						break
					}
				}
			})
		}
	})
}
