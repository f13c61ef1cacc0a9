package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// boundedAPI serves the API on store from a listener bounded by
// esthttp.Connections at maxConns in all and perClient each, wired as
// cmd/api wires it, with a minute for a request and for its body (so that
// only the bound can end a slow one within a test).
func boundedAPI(t *testing.T, store eventstore.Store, maxConns, perClient int) string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	conns := esthttp.NewConnections(maxConns, perClient, log, nil)
	h := esthttp.New(store, esthttp.Options{Logger: log, RequestTimeout: time.Minute})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: h, ConnState: conns.ConnState, ConnContext: esthttp.ConnContext,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	go srv.Serve(conns.Listener(ln)) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// trickledAppend is an append whose headers went at once and whose body
// comes a byte at a time.
type trickledAppend struct {
	*rawConn
	stream uuid.UUID
	stop   chan struct{}
	done   chan struct{}
}

// trickleAppend opens a connection from ip to addr, sends an append's
// headers and the start of its body (of 4096 bytes) at once, then one more
// byte every 200 ms until the test ends or the server closes it: never
// silent, never stalled for long, never done.
func trickleAppend(t *testing.T, addr, ip string) *trickledAppend {
	t.Helper()
	c := dialFrom(t, addr, ip)
	a := &trickledAppend{rawConn: c, stream: uuid.New(), stop: make(chan struct{}), done: make(chan struct{})}
	start := `{"stream_type":"t","events":[{"type":"Slow","data":{"pad":"`
	if _, err := fmt.Fprintf(c, "POST /streams/%s/events HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n%s",
		a.stream, start); err != nil {
		t.Fatalf("send an append's headers: %v", err)
	}
	go func() {
		defer close(a.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-a.stop:
				return
			case <-tick.C:
				if _, err := io.WriteString(c, "x"); err != nil {
					return // closed by the server
				}
			}
		}
	}()
	t.Cleanup(func() { a.halt() })
	return a
}

// halt stops the trickle.
func (a *trickledAppend) halt() {
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
	<-a.done
}

// appendWhenRoomIsMade appends one small event to a new stream from ip,
// on a connection of its own, while the bound is held by trickling
// appends, until it is served 201 (see answeredWhenRoomIsMade).
func appendWhenRoomIsMade(t *testing.T, addr, ip, what string) (refused int) {
	t.Helper()
	body := `{"stream_type":"t","events":[{"type":"Quick","data":{}}]}`
	return answeredWhenRoomIsMade(t, addr, ip, what, http.StatusCreated, func(c *rawConn) error {
		_, err := fmt.Fprintf(c, "POST /streams/%s/events HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			uuid.New(), len(body), body)
		return err
	})
}

// answeredWhenRoomIsMade sends a request (send) from ip on a new
// connection at a bound until it is answered want, and returns how many
// times it was refused 503 before. Until a connection holding a place has
// waited out its grace (SilentGrace; later than the test can tell under
// load, should the server accept it, start reading its body, or record it
// idle late) none qualifies to be closed, and the new one is rightly
// refused 503: it tries again, on a fresh connection, as a client obeying
// Retry-After does. Any other answer fails the test at once; hangGuard
// only stops a hang.
func answeredWhenRoomIsMade(t *testing.T, addr, ip, what string, want int, send func(*rawConn) error) (refused int) {
	t.Helper()
	for until := time.Now().Add(hangGuard); ; refused++ {
		c := dialFrom(t, addr, ip)
		if err := send(c); err != nil {
			t.Fatalf("%s: send (after %d refused): %v", what, refused, err)
		}
		c.SetReadDeadline(time.Now().Add(hangGuard)) //nolint:errcheck
		resp, err := http.ReadResponse(c.r, nil)
		if err != nil {
			t.Fatalf("%s (after %d refused): read the answer: %v", what, refused, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s: read the answer's body: %v", what, err)
		}
		c.Close()
		switch resp.StatusCode {
		case want:
			return refused
		case http.StatusServiceUnavailable:
		default:
			t.Fatalf("%s: %d %s; want %d, or 503 until a connection is closed for it", what, resp.StatusCode, b, want)
		}
		if time.Now().After(until) {
			t.Fatalf("%s: refused 503 %d times over %v, lastly %s; want %d, a connection closed for it once past its grace (%v)",
				what, refused+1, hangGuard, b, want, esthttp.SilentGrace)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAtTheBoundAnAppendTricklingItsBodyGivesItsPlaceUp: a client that
// sent an append's headers at once and then its body a byte now and then
// was never idle, silent nor in its headers, and so could not be closed for
// a new connection until TRIBUTARY_READ_TIMEOUT (60 s) ended it: a few such
// connections (with a valid token, where access control is on; anyone's
// without) held every place, and every other client was refused 503. A body
// arriving more slowly than MinBodyRate once SilentGrace has passed gives
// its place up at a bound, as a trickle of headers does: it is answered 408
// (nothing written) and closed, and the new connection is served. On both
// stores: the append evicted never reaches the store.
func TestAtTheBoundAnAppendTricklingItsBodyGivesItsPlaceUp(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		addr := boundedAPI(t, store, 2, 2)
		slow := []*trickledAppend{trickleAppend(t, addr, "127.0.0.2"), trickleAppend(t, addr, "127.0.0.2")}
		refused := appendWhenRoomIsMade(t, addr, "127.0.0.3", "an append from another client while two connections trickle their appends' bodies at a bound of 2")
		t.Logf("the new append was refused %d times before a trickling one was closed for it", refused)
		// The one closed is answered at once; the other, still trickling,
		// is not answered in these 3 s.
		type answer struct {
			resp *http.Response
			body []byte
		}
		answers := make([]chan answer, len(slow))
		for i, a := range slow {
			answers[i] = make(chan answer, 1)
			go func() {
				a.SetReadDeadline(time.Now().Add(3 * time.Second)) //nolint:errcheck
				resp, err := http.ReadResponse(a.r, nil)
				if err != nil {
					answers[i] <- answer{}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				answers[i] <- answer{resp, b}
			}()
		}
		evicted := 0
		for i, a := range slow {
			got := <-answers[i]
			if got.resp == nil {
				continue // still open, unanswered: the other one
			}
			resp, b := got.resp, got.body
			var p struct{ Type, Detail string }
			if resp.StatusCode != http.StatusRequestTimeout || json.Unmarshal(b, &p) != nil || p.Type != esthttp.ProblemBase+"request-timeout" ||
				!strings.Contains(p.Detail, "TRIBUTARY_MAX_CONNECTIONS") || !strings.Contains(p.Detail, "nothing was written") || !resp.Close {
				t.Errorf("the trickling append %d closed for a new connection: %d %v %s; want a 408 request-timeout problem naming TRIBUTARY_MAX_CONNECTIONS, saying nothing was written, with Connection: close",
					i, resp.StatusCode, resp.Header, b)
			}
			if !a.closedByServer() {
				t.Errorf("the trickling append %d, answered, is still open; want it closed", i)
			}
			evicted++
		}
		if evicted != 1 {
			t.Fatalf("%d of the 2 trickling appends answered and closed for one new connection; want 1", evicted)
		}
		for _, a := range slow {
			a.halt()
			if _, err := store.Stream(context.Background(), a.stream); !errors.Is(err, eventstore.ErrStreamNotFound) {
				t.Errorf("the stream of a trickling append (never whole): %v; want it not found, nothing written", err)
			}
		}
	})
}

// TestAtItsBoundAClientsAppendTricklingItsBodyGivesItsPlaceUp: the same
// at a client's own bound (TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT), naming it.
func TestAtItsBoundAClientsAppendTricklingItsBodyGivesItsPlaceUp(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		addr := boundedAPI(t, store, 10, 1)
		slow := trickleAppend(t, addr, "127.0.0.2")
		refused := appendWhenRoomIsMade(t, addr, "127.0.0.2", "a client's append while its one connection trickles another's body, at its bound of 1")
		t.Logf("the client's new append was refused %d times before its trickling one was closed for it", refused)
		resp, b := slow.answer(t)
		if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(b, "TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT") {
			t.Errorf("the trickling append closed for its client's new connection: %d %s; want a 408 naming TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT", resp.StatusCode, b)
		}
		slow.halt()
		if _, err := store.Stream(context.Background(), slow.stream); !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Errorf("the stream of the trickling append: %v; want it not found, nothing written", err)
		}
	})
}

// TestAtTheBoundAnAppendSendingItsBodySteadilyKeepsItsPlace: an append
// whose large body comes at a steady rate well above MinBodyRate (512 KiB/s,
// eight times it), for longer than SilentGrace, is never closed for a new
// connection: the new one is refused, and the append is written whole.
func TestAtTheBoundAnAppendSendingItsBodySteadilyKeepsItsPlace(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		addr := boundedAPI(t, store, 1, 1)
		var body bytes.Buffer
		body.WriteString(`{"stream_type":"t","events":[`)
		for i := range 3 {
			if i > 0 {
				body.WriteString(",")
			}
			body.WriteString(`{"type":"Large","data":{"pad":"` + strings.Repeat("x", 500<<10) + `"}}`)
		}
		body.WriteString(`]}`)
		c := dialFrom(t, addr, "127.0.0.2")
		stream := uuid.New()
		if _, err := fmt.Fprintf(c, "POST /streams/%s/events HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			stream, body.Len()); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		sendErr := make(chan error, 1)
		go func() {
			defer wg.Done()
			const chunk = 64 << 10
			for b := body.Bytes(); len(b) > 0; b = b[min(chunk, len(b)):] {
				if _, err := c.Write(b[:min(chunk, len(b))]); err != nil {
					sendErr <- err
					return
				}
				time.Sleep(125 * time.Millisecond)
			}
		}()
		time.Sleep(esthttp.SilentGrace + 500*time.Millisecond)
		refused := dialFrom(t, addr, "127.0.0.3")
		refused.send(t, "/readyz")
		if resp, b := refused.answer(t); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("a new connection at a bound of 1 held by a steady upload: %d %s; want 503, the upload kept", resp.StatusCode, b)
		}
		wg.Wait()
		select {
		case err := <-sendErr:
			t.Fatalf("sending the steady upload: %v; want it taken whole", err)
		default:
		}
		c.SetReadDeadline(time.Now().Add(20 * time.Second)) //nolint:errcheck // a hang fails, not blocks, the test
		resp, err := http.ReadResponse(c.r, nil)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("the steady upload's answer: %v %v; want 201", resp, err)
		}
		if s, err := store.Stream(context.Background(), stream); err != nil || s.Version != 3 {
			t.Fatalf("the steady upload's stream: %+v %v; want version 3", s, err)
		}
	})
}
