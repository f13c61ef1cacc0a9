package client

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAProblemsTypeIsShortAndOnOneLine: a problem's type is the server's
// (or a proxy's) text too, which a caller logs or matches on; it alone of
// the problem's text members came as sent, tens of KiB of it, terminal
// escapes and line breaks included, when event_id, stream_type and
// X-Request-Id had been made short. It is now kept as they are: on one
// line, without control characters, cut to 1 KiB; Tributary's own types,
// short URIs, are unchanged.
func TestAProblemsTypeIsShortAndOnOneLine(t *testing.T) {
	t.Parallel()
	hostile := "https://proxy.example/\x1b[2J\nforged log line " + strings.Repeat("x", 20<<10)
	body, _ := json.Marshal(map[string]any{"type": hostile, "title": "Bad Gateway", "status": 502})
	res := &http.Response{StatusCode: http.StatusBadGateway,
		Header: http.Header{"Content-Type": {"application/problem+json"}}, Body: io.NopCloser(bytes.NewReader(body))}
	p := readProblem(res)
	if len(p.Type) > 1024+len("…") || strings.ContainsAny(p.Type, "\x1b\n") || p.Type == "" {
		t.Errorf("Type: %d bytes, %.40q…; expected at most 1 KiB on one line, without control characters", len(p.Type), p.Type)
	}
	own := problemBase + "wrong-expected-version"
	body, _ = json.Marshal(map[string]any{"type": own, "title": "Conflict", "status": 409})
	res = &http.Response{StatusCode: http.StatusConflict,
		Header: http.Header{"Content-Type": {"application/problem+json"}}, Body: io.NopCloser(bytes.NewReader(body))}
	if p := readProblem(res); p.Type != own || !p.tributary {
		t.Errorf("Tributary's type %q came back as %q (Tributary's: %v)", own, p.Type, p.tributary)
	}
}
