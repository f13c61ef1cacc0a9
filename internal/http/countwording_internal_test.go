package http

import (
	"context"
	"strings"
	"testing"
)

// TestACountOfOneIsSaidInTheSingular: a stop cut with one request still
// running said "1 requests still running", a server taking one
// subscription at most "already serves 1 subscriptions", and one bounded
// to one connection (a client's, TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT=1)
// "already holds 1 connections". One is said as one.
func TestACountOfOneIsSaidInTheSingular(t *testing.T) {
	t.Parallel()
	s := New(nil, Options{MaxSubscribers: 1})
	s.handling.Add(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 request still running") {
		t.Errorf("Wait, its time up with one request running: %v; want it to say 1 request still running", err)
	}
	s.handling.Add(1)
	if err := s.Wait(ctx); err == nil || !strings.Contains(err.Error(), "2 requests still running") {
		t.Errorf("Wait, its time up with two requests running: %v; want it to say 2 requests still running", err)
	}
	if d := s.tooManySubscribers().Error(); !strings.Contains(d, "serves 1 subscription,") {
		t.Errorf("the 503 of a server serving its one subscription: %q; want it to say it serves 1 subscription", d)
	}
	c := &Connections{max: 1, perClient: 1}
	for _, bound := range []string{"server", "client"} {
		if d := string(c.refusal(bound, "")); !strings.Contains(d, "holds 1 connection ") {
			t.Errorf("the 503 at the %s's bound of one connection: %q; want it to say it holds 1 connection", bound, d)
		}
		tc := &trackedConn{c: c, evictedAt: bound}
		if d := tc.bodyTooSlow().Error(); !strings.Contains(d, "held 1 connection ") {
			t.Errorf("the 408 of a slow body at the %s's bound of one connection: %q; want it to say it held 1 connection", bound, d)
		}
	}
}
