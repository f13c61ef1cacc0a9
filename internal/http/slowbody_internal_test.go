package http

import (
	"container/list"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestABodyIsClosedForANewConnectionOnlyWhenBehindTheMinimumRate: at a
// bound, a connection receiving an append's body is the one to close only
// once SilentGrace has passed since it began and what came is behind
// MinBodyRate since then; of several, the one begun longest ago that is
// behind, though an older one, on time, is not.
func TestABodyIsClosedForANewConnectionOnlyWhenBehindTheMinimumRate(t *testing.T) {
	now := time.Now()
	body := func(ago time.Duration, read int64) *trackedConn {
		tc := &trackedConn{kind: receiving, since: now.Add(-ago)}
		tc.bodyRead.Store(read)
		return tc
	}
	for _, tt := range []struct {
		name  string
		conns []*trackedConn // longest first
		want  int            // the index of the victim, -1 for none
	}{
		{"nothing yet, within the grace", []*trackedConn{body(SilentGrace-time.Millisecond, 0)}, -1},
		{"nothing, a second past the grace", []*trackedConn{body(SilentGrace+time.Second, 0)}, 0},
		{"a byte now and then, long past the grace", []*trackedConn{body(SilentGrace+20*time.Second, 100)}, 0},
		{"at the rate, a second past the grace", []*trackedConn{body(SilentGrace+time.Second, MinBodyRate)}, -1},
		{"half a megabyte in the grace, then nothing for 7 s", []*trackedConn{body(SilentGrace+7*time.Second, 512<<10)}, -1},
		{"half a megabyte in the grace, then nothing for 9 s", []*trackedConn{body(SilentGrace+9*time.Second, 512<<10)}, 0},
		{"an older one on time, a younger one behind", []*trackedConn{body(SilentGrace+10*time.Second, 10*MinBodyRate), body(SilentGrace+time.Second, 10)}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var lists [5]list.List
			for _, tc := range tt.conns {
				lists[receiving].PushBack(tc)
			}
			got := victim([5]*list.List{&lists[0], &lists[1], &lists[2], &lists[3], &lists[4]}, now, SilentGrace, nil)
			want := (*trackedConn)(nil)
			if tt.want >= 0 {
				want = tt.conns[tt.want]
			}
			if got != want {
				t.Errorf("victim: %p; want %p (index %d of %v)", got, want, tt.want, tt.conns)
			}
		})
	}
}

// deadlineConn is an addrConn that takes deadlines.
type deadlineConn struct{ addrConn }

func (deadlineConn) Read([]byte) (int, error)        { return 0, io.EOF }
func (deadlineConn) Write(p []byte) (int, error)     { return len(p), nil }
func (deadlineConn) SetDeadline(time.Time) error     { return nil }
func (deadlineConn) SetReadDeadline(time.Time) error { return nil }

// TestABodyEndingAsItsConnectionIsClosedForANewOneIsNeverTakenWhole: an
// append's body whose end arrives just as a new connection at the bound
// picks its connection to close either ends first, and its connection is
// then no longer one to close (the new one is refused), or fails with the
// 408 (nothing written): never both, a place given away under an append
// that goes on to the store.
func TestABodyEndingAsItsConnectionIsClosedForANewOneIsNeverTakenWhole(t *testing.T) {
	bad, evicted := 0, 0
	for i := range 5000 {
		c := NewConnections(1, 1, slog.New(slog.DiscardHandler), nil)
		tc := c.admit(deadlineConn{addrConn{addr: "10.0.0.1:1"}}).(*trackedConn)
		c.ConnState(tc, http.StateActive)
		b := &readToEnd{ReadCloser: io.NopCloser(strings.NewReader(`{}`)), conn: receiveBody(ConnContext(context.Background(), tc))}
		c.mu.Lock()
		tc.since = time.Now().Add(-2 * SilentGrace) // behind the rate: nothing came in a grace past its own
		c.mu.Unlock()
		start, done := make(chan struct{}), make(chan struct{})
		go func() { <-start; c.admit(deadlineConn{addrConn{addr: "10.0.0.2:1"}}); close(done) }()
		var err error
		if i%2 == 0 {
			close(start)
			_, err = io.ReadAll(b)
		} else {
			go close(start)
			_, err = io.ReadAll(b)
		}
		<-done
		b.received() // as the handler's end does
		if err == nil && tc.shut.Load() {
			bad++
		}
		if err != nil {
			evicted++
			if !strings.Contains(err.Error(), "TRIBUTARY_MAX_CONNECTIONS") {
				t.Fatalf("the read of a body whose connection was closed for a new one: %v; want the 408 naming TRIBUTARY_MAX_CONNECTIONS", err)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d bodies of 5,000 read whole from a connection closed for a new one; want none", bad)
	}
	t.Logf("%d of 5,000 closed for the new connection first", evicted)
}
