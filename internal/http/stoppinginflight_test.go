package http_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestAnAnswerBegunBeforeStoppingAndSentAfterItClosesItsConnection: a
// request whose handler began before Stopping (an append still reading its
// body, a read waiting on the database) and whose answer was written
// during the shutdown delay said nothing of the stop: Connection: close
// was set only as a request began (cacheControl), so its kept-alive
// connection stayed with a pooled client, whose next request raced the
// drain's close of idle connections, the very race the delay's
// Connection: close is there to spare it. The answer now says
// Connection: close whenever its status is written once Stopping was
// called, and the server closes the connection after it. The handler is
// held inside its body's read by Expect: 100-continue: the interim 100 is
// sent only once the handler reads the body, well past the request's
// start.
func TestAnAnswerBegunBeforeStoppingAndSentAfterItClosesItsConnection(t *testing.T) {
	t.Parallel()
	h, _, c, br := serveOnBoundedListener(t)
	const body = `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	if _, err := fmt.Fprintf(c, "POST /streams/%s/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n", uuid.NewString(), len(body)); err != nil {
		t.Fatalf("write the append's headers: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) //nolint:errcheck // a hang guard
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("the append's interim answer: %v, %v; want 100 Continue, its handler reading its body", resp, err)
	}

	h.Stopping()
	if _, err := io.WriteString(c, body); err != nil {
		t.Fatalf("write the append's body: %v", err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the append's answer: %v", err)
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck // read to its end
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !resp.Close {
		t.Errorf("an append begun before Stopping and answered after it: %d, Connection: close %v; want 201 with Connection: close",
			resp.StatusCode, resp.Close)
	}
	expectClosedByServer(t, "after that answer", c, br)
}
