package http_test

import "testing"

// startFullBound starts a boundedServer of 2 connections (2 a client) and
// fills it: two clients, 127.0.0.1 and 127.0.0.2, each hold a connection
// with a request to /block, both read by the server before it returns, so
// a third connection meets the bound with none idle and none in its
// headers.
func startFullBound(t *testing.T) *boundedServer {
	t.Helper()
	b := startBounded(t, 2, 2)
	for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		dialFrom(t, b.addr, ip).send(t, "/block")
	}
	b.untilBlocked(t, 2)
	return b
}
