package http

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
)

// BenchmarkConnStateRequest is what ConnState costs each request on a
// kept-alive connection: told active, then idle (every request's path).
func BenchmarkConnStateRequest(b *testing.B) {
	c := NewConnections(100, 100, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	server, client := net.Pipe()
	b.Cleanup(func() { server.Close(); client.Close() })
	const key = "10.0.0.1"
	c.mu.Lock()
	c.clients[key] = &connClient{open: 1}
	c.open++
	t := &trackedConn{Conn: server, c: c, client: key}
	c.mu.Unlock()
	c.ConnState(t, http.StateNew)
	for b.Loop() {
		c.ConnState(t, http.StateActive)
		c.ConnState(t, http.StateIdle)
	}
}
