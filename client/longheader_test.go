package client

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestAMalformedHeaderLineIsNotQuotedWholeInAnError: net/http's error
// for an answer with a malformed header line quotes the line whole, and
// the client wrapped it as it came (it shortened only the URL in it): a
// server or proxy whose answer held such a line of 100 KiB made the
// request's error as long, into the caller's logs. It is now cut to one
// line of at most 300 bytes.
func TestAMalformedHeaderLineIsNotQuotedWholeInAnError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for { // the request's header
					line, err := r.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nA malformed line " + strings.Repeat("y", 100<<10) + "\r\n\r\n")) //nolint:errcheck // a test's answer
			}()
		}
	}()
	c := newClient(t, "http://"+ln.Addr().String(), WithReadRetries(0))
	_, err = c.Stream(context.Background(), uuid.New())
	if err == nil || len(err.Error()) > 2048 {
		n := 0
		if err != nil {
			n = len(err.Error())
		}
		t.Errorf("an error of %d bytes (%.300v); expected one of at most 2 KiB", n, err)
	}
}
