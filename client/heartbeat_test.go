package client

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestSubscribeLearnsAHeartbeatLongerThanItsIdleTimeout: IdleTimeout
// assumed the server's default heartbeat (45 s, three of 15 s), which the
// stream does not announce; against a server run with a longer one
// (TRIBUTARY_HEARTBEAT=60s) every caught-up connection was cut and
// reopened each IdleTimeout, for ever, before its first keep-alive came.
// A connection the server answered, cut so before it brought any
// keep-alive, now doubles the idle timeout for the next (up to eight
// times IdleTimeout): against the real handler on both stores, whose
// heartbeat is 2.5 times IdleTimeout, the subscription is cut at most
// three times before one connection lives through three keep-alives.
func TestSubscribeLearnsAHeartbeatLongerThanItsIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle, heartbeat = 200 * time.Millisecond, 500 * time.Millisecond
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		h := handlerOf(t, k.Open(t), heartbeat)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var lived atomic.Bool // a connection wrote its third keep-alive
		srv := testServer(t, h.ServeHTTP)
		// The server hands a subscription's connection over to a writer of
		// its own: the keep-alives are counted as they reach the client.
		counting := &http.Client{Transport: keepAliveCounting{func() { lived.Store(true); cancel() }}}
		c := newClient(t, srv.URL, WithHTTPClient(counting))
		var cuts []string
		opts := SubscribeOptions{IdleTimeout: idle, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
			OnDisconnect: func(err error, _ time.Duration) {
				if cuts = append(cuts, err.Error()); len(cuts) > 3 {
					cancel()
				}
			}}
		for _, err := range c.Subscribe(ctx, opts) {
			if err != nil {
				break
			}
		}
		if !lived.Load() || len(cuts) > 3 {
			t.Fatalf("the subscription was cut %d times (%s) and no connection lived through three heartbeats; expected at most 3 cuts, each doubling the idle timeout",
				len(cuts), strings.Join(cuts, "; "))
		}
		for _, why := range cuts {
			if !strings.Contains(why, "IdleTimeout") || !strings.Contains(why, "no keep-alive") {
				t.Errorf("OnDisconnect was told %q; expected it to say no keep-alive came, and that the idle timeout grows", why)
			}
		}
	})
}

// keepAliveCounting is a transport that counts the keep-alive comments of
// each answer as they are read, and calls third at an answer's third.
type keepAliveCounting struct{ third func() }

func (k keepAliveCounting) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		res.Body = &keepAliveCounter{ReadCloser: res.Body, third: k.third}
	}
	return res, err
}

// keepAliveCounter counts the keep-alive comments read from one answer.
type keepAliveCounter struct {
	io.ReadCloser
	n     int
	third func()
}

func (k *keepAliveCounter) Read(p []byte) (int, error) {
	n, err := k.ReadCloser.Read(p)
	if k.n += bytes.Count(p[:n], []byte(": keep-alive")); k.n >= 3 && k.third != nil {
		k.third()
		k.third = nil
	}
	return n, err
}
