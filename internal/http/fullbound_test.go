package http_test

import (
	"testing"
	"time"
)

// startFullBound starts a boundedServer of 2 connections (2 a client) and
// fills it: two clients, 127.0.0.1 and 127.0.0.2, each hold a connection
// with a request to /block, read by the server before it returns, so a
// third connection meets the bound with none idle.
func startFullBound(t *testing.T) *boundedServer {
	t.Helper()
	b := startBounded(t, 2, 2)
	for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		dialFrom(t, b.addr, ip).send(t, "/block")
	}
	time.Sleep(100 * time.Millisecond) // let both requests be read
	return b
}
