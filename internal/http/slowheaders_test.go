package http_test

import (
	"io"
	"testing"
	"time"

	esthttp "github.com/tributary-dev/tributary/internal/http"
)

// trickle writes one byte of a request's headers on each of conns every
// 200 ms for d: the connections are never silent, and never finish their
// headers.
func trickle(t *testing.T, d time.Duration, conns ...*rawConn) {
	t.Helper()
	for _, c := range conns {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\n"); err != nil {
			t.Fatalf("send a request line: %v", err)
		}
	}
	const header = "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	for i, end := 0, time.Now().Add(d); time.Now().Before(end); i++ {
		for _, c := range conns {
			if _, err := io.WriteString(c, header[i%len(header):i%len(header)+1]); err != nil {
				t.Fatalf("send a byte of a header: %v", err)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestAtTheBoundAConnectionTricklingItsHeadersGivesItsPlaceUp: a
// connection that sends a byte of its request's headers now and then (a
// slowloris) was neither idle nor silent, and so could not be closed for a
// new one until TRIBUTARY_READ_HEADER_TIMEOUT cut it, to be opened again at
// once: a few addresses trickling headers locked every other client out,
// and took the places of their kept-alive connections as those went idle
// between two requests. One still in its headers SilentGrace after they
// began is closed for a new one, as a silent one is.
func TestAtTheBoundAConnectionTricklingItsHeadersGivesItsPlaceUp(t *testing.T) {
	b := startBounded(t, 2, 2)
	first := dialFrom(t, b.addr, "127.0.0.2")
	second := dialFrom(t, b.addr, "127.0.0.2")
	trickle(t, esthttp.SilentGrace+400*time.Millisecond, first, second)

	late := dialFrom(t, b.addr, "127.0.0.3")
	late.get(t, "/")
	if !eitherClosedByServer(first, second) {
		t.Fatal("both connections trickling their headers are still open after a new one took a place; expected one closed")
	}
}

// TestAtItsBoundAClientsConnectionTricklingItsHeadersGivesItsPlaceUp: the
// same at a client's own bound.
func TestAtItsBoundAClientsConnectionTricklingItsHeadersGivesItsPlaceUp(t *testing.T) {
	b := startBounded(t, 10, 1)
	slow := dialFrom(t, b.addr, "127.0.0.2")
	trickle(t, esthttp.SilentGrace+400*time.Millisecond, slow)

	dialFrom(t, b.addr, "127.0.0.2").get(t, "/")
	if !slow.closedByServer() {
		t.Fatal("the connection trickling its headers is still open after its client's new one took its place; expected it closed")
	}
}

// TestAtTheBoundAConnectionTricklingItsHeadersGoesBeforeAKeptAliveOne: a
// kept-alive connection between two of its client's requests was closed
// for a new one before any other, while connections that had sent nothing,
// or only part of their headers, for seconds kept theirs: an attacker
// opening connections again as they were cut took, one after another, the
// places of the clients that were being served. One silent, or in its
// headers, for SilentGrace goes first; a kept-alive one only where none is.
func TestAtTheBoundAConnectionTricklingItsHeadersGoesBeforeAKeptAliveOne(t *testing.T) {
	b := startBounded(t, 2, 2)
	slow := dialFrom(t, b.addr, "127.0.0.2")
	trickle(t, esthttp.SilentGrace+400*time.Millisecond, slow)
	kept := dialFrom(t, b.addr, "127.0.0.1")
	b.getIdle(t, kept)

	dialFrom(t, b.addr, "127.0.0.3").get(t, "/")
	if !slow.closedByServer() {
		t.Fatal("the connection trickling its headers is still open after a new one took a place; expected it closed before the kept-alive one")
	}
	kept.get(t, "/")
}
