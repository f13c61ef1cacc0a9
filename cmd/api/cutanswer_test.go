package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestRequestsCutAtTheStopsTimeoutAreAnswered503WithRetryAfter: a request
// still running at the end of the stop's timeout (an append and a read
// waiting in the store) had its connection closed under it: the client had
// no answer at all (curl's 000), and could not tell a stop from a crash.
// Each that has written nothing yet is answered 503, a problem with
// Retry-After that says the server is stopping (another instance can serve
// it) and, for the append, that it was not written, before its connection
// closes; its access line says 503 with the bytes it sent. On both stores.
func TestRequestsCutAtTheStopsTimeoutAreAnswered503WithRetryAfter(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &heldUntilCut{closableStore: k.Open(t).(closableStore), entered: make(chan string, 2)}
		// Its last second is the cut's: half of it for the handlers to answer.
		srv := serveToStop(t, store, context.Background(), 5*time.Second, 60*time.Second)
		base, stop, done, logs := srv.base, srv.stop, srv.done, srv.logs
		type answer struct {
			what       string
			status     int
			retryAfter string
			ctype      string
			body       string
			err        error
		}
		answers := make(chan answer, 2)
		ask := func(what string, req *http.Request) {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- answer{what: what, err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			answers <- answer{what, resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), string(b), err}
		}
		appendReq, _ := http.NewRequest(http.MethodPost, base+"/streams/"+uuid.NewString()+"/events",
			strings.NewReader(`{"stream_type":"t","events":[{"type":"Held","data":{}}]}`))
		appendReq.Header.Set("Content-Type", "application/json")
		readReq, _ := http.NewRequest(http.MethodGet, base+"/streams/"+uuid.NewString(), nil)
		go ask("the append", appendReq)
		go ask("the read", readReq)
		for range 2 {
			select {
			case <-store.entered:
			case <-time.After(30 * time.Second):
				t.Fatal("the append and the read never reached the store")
			}
		}
		stop() // SIGTERM: the drain waits for both until its timeout
		for range 2 {
			a := <-answers
			if a.err != nil {
				t.Errorf("%s, cut at the stop's timeout: no answer (%v); want a 503 with Retry-After before its connection closes", a.what, a.err)
				continue
			}
			var p struct{ Type, Detail string }
			if a.status != http.StatusServiceUnavailable || a.retryAfter == "" || a.ctype != "application/problem+json" ||
				json.Unmarshal([]byte(a.body), &p) != nil || !strings.Contains(p.Detail, "stopping") {
				t.Errorf("%s, cut at the stop's timeout: %d, Retry-After %q, %q %s; want a 503 problem with Retry-After saying the server is stopping",
					a.what, a.status, a.retryAfter, a.ctype, a.body)
			}
			if a.what == "the append" && !strings.Contains(p.Detail, "not written") {
				t.Errorf("the append, cut: detail %q; want it to say the append was not written", p.Detail)
			}
		}
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not return after the stop's timeout")
		}
		for _, line := range strings.Split(logs.String(), "\n") {
			var l struct {
				Msg, Level, Path string
				Status, Bytes    int
			}
			if json.Unmarshal([]byte(line), &l) != nil || l.Msg != "request" {
				continue
			}
			if l.Status != http.StatusServiceUnavailable || l.Level != "WARN" || l.Bytes == 0 {
				t.Errorf("%s, answered 503 as it was cut: logged %d at %s with %d bytes; want 503 at WARN with the bytes of its problem", l.Path, l.Status, l.Level, l.Bytes)
			}
		}
	})
}

// TestAnAppendStillSendingItsBodyAtTheStopsCutIsAnswered503: an append
// whose client had sent its headers and half its body when the stop's
// timeout cut what still ran got no answer, its connection just closed: its
// handler, blocked reading the body, does not see its context end, and
// returned only when the connection closed under it, too late to answer.
// The cut ends the body's read (a read deadline) where the body is still
// coming, and the append is answered 503 with Retry-After, saying the
// server is stopping and the append was not written, before its
// connection closes; nothing is written. By SIGTERM with a short timeout,
// and by a second signal. On both stores.
func TestAnAppendStillSendingItsBodyAtTheStopsCutIsAnswered503(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		for _, by := range []string{"the timeout", "a second signal"} {
			t.Run(by, func(t *testing.T) {
				t.Parallel()
				store := k.Open(t).(closableStore)
				cutCtx, cut := context.WithCancel(context.Background())
				defer cut()
				timeout := 60 * time.Second
				if by == "the timeout" {
					timeout = 3 * time.Second
				}
				srv := serveToStop(t, noClose{store}, cutCtx, timeout, 60*time.Second)
				conn, err := net.Dial("tcp", srv.addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { conn.Close() })
				id := uuid.New()
				if _, err := conn.Write([]byte("POST /streams/" + id.String() + "/events HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n" +
					"Content-Length: 100000\r\n\r\n{\"stream_type\":\"t\",\"events\":[{\"type\":\"Slow\",\"data\":{\"pad\":\"")); err != nil {
					t.Fatal(err)
				}
				for deadline := time.Now().Add(30 * time.Second); !bodyArriving(srv.base); time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the append whose body is coming never reached its handler")
					}
				}
				srv.stop() // SIGTERM
				if by == "a second signal" {
					for deadline := time.Now().Add(30 * time.Second); !strings.Contains(srv.logs.String(), `"msg":"shutting down"`); time.Sleep(10 * time.Millisecond) {
						if time.Now().After(deadline) {
							t.Fatalf("no shutting down line; the log says:\n%s", srv.logs.String())
						}
					}
					cut()
				}
				_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // a hang fails, not blocks, the test
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatalf("an append still sending its body, cut by %s: no answer (%v); want a 503 with Retry-After before its connection closes", by, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var p struct{ Detail string }
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
					json.Unmarshal(b, &p) != nil || !strings.Contains(p.Detail, "stopping") || !strings.Contains(p.Detail, "not written") {
					t.Errorf("an append still sending its body, cut by %s: %d, Retry-After %q, %s; want a 503 with Retry-After saying the server is stopping and the append was not written",
						by, resp.StatusCode, resp.Header.Get("Retry-After"), b)
				}
				select {
				case <-srv.done:
				case <-time.After(20 * time.Second):
					t.Fatal("serve did not return after the cut")
				}
				if _, err := store.Stream(context.Background(), id); !errors.Is(err, eventstore.ErrStreamNotFound) {
					t.Errorf("the stream of the append cut while its body came: %v; want it not to exist", err)
				}
			})
		}
	})
}

// noClose is a store whose Close leaves it to the test's cleanup, so that
// the test may read it once the server has stopped.
type noClose struct{ closableStore }

func (noClose) Close() error { return nil }
