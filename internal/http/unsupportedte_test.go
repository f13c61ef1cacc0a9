package http_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	esthttp "github.com/tributary-dev/tributary/internal/http"
)

// TestATransferEncodingNotServedIsAProblem: a Transfer-Encoding other than
// chunked alone (gzip, chunked; identity; the header given twice) is
// refused by net/http before any handler runs, and was answered in its
// plain text ("Unsupported transfer encoding"), not as a problem as every
// other error is. It is a 501 application/problem+json now, of type
// not-implemented, naming what to send instead, with the connection closed
// as before and nothing written.
func TestATransferEncodingNotServedIsAProblem(t *testing.T) {
	t.Parallel()
	addr := startFramingServer(t)
	const body = `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	for _, te := range []string{
		"Transfer-Encoding: gzip, chunked\r\n",
		"Transfer-Encoding: identity\r\n",
		"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
		"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
	} {
		stream := uuid.NewString()
		sent := "POST /streams/" + stream + "/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + te + "\r\n" +
			"34\r\n" + body + "\r\n0\r\n\r\n"
		answers, closed := exchangeAll(t, addr, sent)
		what := strings.ReplaceAll(te, "\r\n", "; ")
		if len(answers) != 1 || !closed {
			t.Errorf("%s: answers %v, closed %v; want one, the connection closed", what, answers, closed)
			continue
		}
		a := answers[0]
		if a.status != http.StatusNotImplemented || a.contentType != "application/problem+json" || !a.close {
			t.Errorf("%s: %d %q (Connection: close %v); want 501 application/problem+json, Connection: close", what, a.status, a.contentType, a.close)
		}
		var p struct {
			Type, Title, Detail string
			Status              int
		}
		if err := json.Unmarshal([]byte(a.body), &p); err != nil {
			t.Errorf("%s: body %q is no problem: %v", what, a.body, err)
		} else if p.Type != esthttp.ProblemBase+"not-implemented" || p.Status != http.StatusNotImplemented || p.Title != "Not implemented" ||
			!strings.Contains(p.Detail, "Transfer-Encoding: chunked") {
			t.Errorf("%s: problem %+v; want type not-implemented, status 501, a detail naming Transfer-Encoding: chunked", what, p)
		}
		requireNoStream(t, addr, stream, what)
	}
}
