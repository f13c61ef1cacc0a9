package http

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// BenchmarkAppendRequestWithTokens is BenchmarkAppendRequest with access
// control on: the token looked up in the set in force (Access, which a
// reload may replace), and the access log's redaction with every token
// the set has held (here after ten rotations).
func BenchmarkAppendRequestWithTokens(b *testing.B) {
	stream := uuid.New()
	now := time.Now()
	store := answeringStore{res: eventstore.AppendResult{StreamID: stream, StreamType: "order", Version: 11,
		Events: []eventstore.RecordedEvent{{ID: uuid.New(), Version: 11, Position: 1234, RecordedAt: now}}}}
	const secret = "app-0123456789abcdef0123456789abcdef"
	access := NewAccess([]Token{{Name: "app", Role: RoleWrite, Secret: secret}})
	for i := range 10 {
		if _, err := access.Replace([]Token{{Name: "app", Role: RoleWrite, Secret: secret},
			{Name: "ci", Role: RoleRead, Secret: "ci-0123456789abcdef-" + uuid.NewString() + string(rune('a'+i))}}); err != nil {
			b.Fatal(err)
		}
	}
	s := New(store, Options{Logger: slog.New(slog.DiscardHandler), Access: access})
	body := appendBody(1, false)
	rd := bytes.NewReader(body)
	r := httptest.NewRequest(http.MethodPost, "/streams/"+stream.String()+"/events", nil)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("If-Match", `"10"`)
	r.Header.Set("Authorization", "Bearer "+secret)
	r.Body = rewindBody{rd}
	w := newDiscardResponse()
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		clear(w.h)
		s.ServeHTTP(w, r)
		if w.h.Get("ETag") != `"11"` {
			b.Fatalf("headers %v, want the ETag of version 11", w.h)
		}
	}
}
