package http_test

import (
	"testing"
	"time"

	esthttp "github.com/tributary-dev/tributary/internal/http"
)

// TestAtTheServersBoundAConnectionKeptAliveBetweenTwoRequestsKeepsItsPlace:
// at the server's bound, a served client's kept-alive connection, idle for
// the moment between two of its requests, was closed for any new
// connection whenever none was silent, or in its headers, for
// SilentGrace: an attacker opening connections again as they were cut
// (each one younger than the grace) still took a served client's
// connection every few hundred milliseconds, its next request failing on
// it (a POST is not sent again by most clients), and its new connection
// refused (the attacker's reproduction: 36 appends of 78 served in 25 s).
// (From review2http.) At the server's bound, one kept alive is closed
// only once idle for SilentGrace too; at its client's own bound, at once,
// as before: the client opening another has it to reuse.
func TestAtTheServersBoundAConnectionKeptAliveBetweenTwoRequestsKeepsItsPlace(t *testing.T) {
	b := startBounded(t, 2, 2)
	busy := dialFrom(t, b.addr, "127.0.0.2")
	busy.send(t, "/block")
	kept := dialFrom(t, b.addr, "127.0.0.1")
	b.getIdle(t, kept)

	late := dialFrom(t, b.addr, "127.0.0.3")
	late.send(t, "/")
	requireRefused(t, late, "2 connections")
	kept.get(t, "/") // still open, and served
	select {
	case <-b.idle:
	case <-time.After(5 * time.Second):
		t.Fatal("the kept-alive connection was not recorded idle after its answer within 5 s")
	}

	// Idle for the grace, it gives its place up.
	time.Sleep(esthttp.SilentGrace + 200*time.Millisecond)
	dialFrom(t, b.addr, "127.0.0.3").get(t, "/")
	if !kept.closedByServer() {
		t.Fatal("the connection idle for longer than the grace is still open after a new one took a place; expected it closed")
	}
}
