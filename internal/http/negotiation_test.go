package http_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnAppendTakesOnlyApplicationJSON: the contract's append body is
// Content-Type: application/json (API.md), and 415 is "not JSON". Any
// media type ending in +json was taken as well, application/problem+json
// and application/vnd.acme.order+json included: a client that sent one
// got its events written though the server does not know those formats,
// and a proxy or client that checks the contract saw it broken. (A
// hostile review found it.) They are 415s now, and every 415 for the
// Content-Type says, in Accept-Post and Accept (RFC 9110 §15.5.16), the
// one media type an append takes.
func TestAnAppendTakesOnlyApplicationJSON(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := newServer(t, newContract(t), k.Open(t))
		body := `{"stream_type":"order","events":[{"type":"A","data":1}]}`
		for _, ct := range []string{"application/json", "Application/JSON", "application/json; charset=utf-8"} {
			expectStatus(t, "Content-Type "+ct, s.do("POST", "/streams/"+uuid.NewString()+"/events", body, "Content-Type", ct), 201)
		}
		for _, ct := range []string{"application/problem+json", "application/vnd.acme.order+json", "application/merge-patch+json",
			"text/json", "text/plain", "application/jsonx", "application/json-seq"} {
			r := s.do("POST", "/streams/"+uuid.NewString()+"/events", body, "Content-Type", ct)
			expectStatus(t, "Content-Type "+ct, r, 415)
			if got := r.header.Get("Accept-Post"); got != "application/json" {
				t.Errorf("415 for Content-Type %q: Accept-Post %q, want \"application/json\"", ct, got)
			}
			if got := r.header.Get("Accept"); got != "application/json" {
				t.Errorf("415 for Content-Type %q: Accept %q, want \"application/json\"", ct, got)
			}
			if d := string(r.body); !strings.Contains(d, "application/json") || !strings.Contains(d, ct) {
				t.Errorf("415 for Content-Type %q: detail %s, want it to name what was sent and application/json", ct, d)
			}
		}
	})
}
