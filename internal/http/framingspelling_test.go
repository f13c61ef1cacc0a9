package http_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"
)

// TestALengthAFrontEndMayReadInAnotherSpellingClosesTheConnection: a
// request that said its length, or its chunks, in a header net/http does
// not read as one (Content_Length, Transfer_Encoding: '_' where '-' is,
// any case) or on a folded line (obs-fold: net/http joins it to the value
// of the line before) was answered and its connection kept, so that the
// bytes after it, which a front end that reads such a header as a length
// sent as part of its body, were served as another request (request
// smuggling). Each is now answered and its connection closed after the
// answer, the bytes behind it never read; an ordinary request with a
// header of another name spelled with '_', or with a Content-Length,
// keeps its connection. On a raw connection to a server on the bounded
// listener, as the binary runs.
func TestALengthAFrontEndMayReadInAnotherSpellingClosesTheConnection(t *testing.T) {
	t.Parallel()
	addr := startFramingServer(t)
	const body = `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	// The request behind says Connection: close, so that an exchange whose
	// connection is kept ends with its answer.
	smuggled := "GET /streams/" + uuid.NewString() + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	get := func(headers string) string {
		return "GET /streams/" + uuid.NewString() + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n"
	}
	post := func(headers string) string {
		return "POST /streams/" + uuid.NewString() + "/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n", len(body)) + headers + "\r\n" + body
	}

	for _, tc := range []struct {
		name, sent string
		status     int
	}{
		{"Content_Length on a GET", get(fmt.Sprintf("Content_Length: %d\r\n", len(smuggled))), http.StatusNotFound},
		{"content_length in lower case", get(fmt.Sprintf("content_length: %d\r\n", len(smuggled))), http.StatusNotFound},
		{"Transfer-Encoding folded onto another header's line", get("X-A: b\r\n\tTransfer-Encoding: chunked\r\n"), http.StatusNotFound},
		{"a length folded with a space", get(fmt.Sprintf("X-A: b\r\n Content-Length: %d\r\n", len(smuggled))), http.StatusNotFound},
		{"Content-Length and Transfer_Encoding: chunked", post("Transfer_Encoding: chunked\r\n"), http.StatusCreated},
		{"Content-Length and TRANSFER_ENCODING in upper case", post("TRANSFER_ENCODING: chunked\r\n"), http.StatusCreated},
		{"Content-Length and a different Content_Length", post("Content_Length: 5\r\n"), http.StatusCreated},
	} {
		answers, closed := exchangeAll(t, addr, tc.sent+smuggled)
		switch {
		case len(answers) == 0:
			t.Errorf("%s: no answer; want %d", tc.name, tc.status)
		case answers[0].status != tc.status:
			t.Errorf("%s: %v; want %d, served as net/http frames it", tc.name, answers[0], tc.status)
		case !answers[0].close:
			t.Errorf("%s: answered without Connection: close", tc.name)
		}
		if len(answers) != 1 || !closed {
			t.Errorf("%s: %d answers %v, connection closed %v; want one answer and the connection closed, the bytes after it never served",
				tc.name, len(answers), answers, closed)
		}
	}

	// Ordinary requests keep their connection: each is answered, the
	// request behind it too.
	for _, tc := range []struct {
		name, sent string
		status     int
	}{
		{"a header of another name with '_'", get("X_Request_Tag: Content_Length\r\n"), http.StatusNotFound},
		{"a name that only begins as Content_Length", get("Content_Lengthy: 3\r\n"), http.StatusNotFound},
		{"an append with Content-Length", post(""), http.StatusCreated},
	} {
		answers, _ := exchangeAll(t, addr, tc.sent+smuggled)
		if len(answers) != 2 || answers[0].status != tc.status || answers[0].close || answers[1].status != http.StatusNotFound {
			t.Errorf("%s: %v; want %d then the 404 of the request behind it, on a connection kept", tc.name, answers, tc.status)
		}
	}
}
