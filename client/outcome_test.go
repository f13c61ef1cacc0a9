package client

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/tcptest"
)

// TestAppendSaysWhenItsOutcomeIsUnknown: an append that got no whole
// answer (none, one cut at the request timeout, a success whose body the
// connection cut, an answer that is not its batch's) may have stored its
// events: its error is ErrOutcomeUnknown, so that a caller knows to send
// the batch again with the same ids. It said so only in its text, and a
// caller that looked for a *url.Error, as the example did, missed every
// answer cut after its headers. A refusal of the server (a *Problem below
// 500) or a redirect refused, which sent nothing there, is no such error.
func TestAppendSaysWhenItsOutcomeIsUnknown(t *testing.T) {
	t.Parallel()
	const created = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"stream_id\":"
	for name, tc := range map[string]struct {
		answer  func(net.Conn)
		unknown bool
	}{
		"no answer within the request timeout": {answer: func(conn net.Conn) { io.Copy(io.Discard, conn) }, unknown: true}, //nolint:errcheck // until the client leaves
		"a 201 whose body stalls": {answer: func(conn net.Conn) {
			io.WriteString(conn, created) //nolint:errcheck // a test's server
			io.Copy(io.Discard, conn)     //nolint:errcheck // until the client leaves
		}, unknown: true},
		"a 201 whose body the connection cuts": {answer: func(conn net.Conn) {
			io.WriteString(conn, created) //nolint:errcheck // a test's server
		}, unknown: true},
		"a 201 that is not the batch's": {answer: func(conn net.Conn) {
			io.WriteString(conn, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}") //nolint:errcheck // a test's server
		}, unknown: true},
		"a 409": {answer: func(conn net.Conn) {
			io.WriteString(conn, "HTTP/1.1 409 Conflict\r\nContent-Type: application/problem+json\r\nContent-Length: 77\r\n\r\n"+ //nolint:errcheck // a test's server
				`{"type":"https://tributary.dev/problems/wrong-expected-version","status":409}`)
		}},
		"a 307 to another origin, refused": {answer: func(conn net.Conn) {
			io.WriteString(conn, "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://elsewhere.invalid/x\r\nContent-Length: 0\r\n\r\n") //nolint:errcheck // a test's server
		}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addr := tcptest.Serve(t, func(conn net.Conn) {
				conn.Read(make([]byte, 64<<10)) //nolint:errcheck // the request
				tc.answer(conn)
			})
			c := newClient(t, "http://"+addr, WithRequestTimeout(300*time.Millisecond))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a safety net
			defer cancel()
			_, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{ID: uuid.New(), Type: "A", Data: 1})
			if err == nil || errors.Is(err, ErrOutcomeUnknown) != tc.unknown {
				t.Errorf("Append returned %v; expected an error that is ErrOutcomeUnknown: %v", err, tc.unknown)
			}
		})
	}
}
