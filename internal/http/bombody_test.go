package http_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestABodyThatBeginsWithAByteOrderMarkSaysSo: a JSON file saved "UTF-8
// with BOM" (Windows PowerShell 5's Set-Content -Encoding UTF8, Notepad)
// and sent with curl -d @file was a 400 "invalid character '\ufeff' at
// start of value", which named no cause a user would know. It is still a
// 400 (JSON's text has no byte order mark, and the contract is strict),
// whose detail says the body begins with one and to save the file without
// it; nothing is written.
func TestABodyThatBeginsWithAByteOrderMarkSaysSo(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := newServer(t, newContract(t), k.Open(t))
		id := uuid.NewString()
		r := s.do("POST", "/streams/"+id+"/events", "\ufeff"+`{"stream_type":"order","events":[{"type":"A","data":1}]}`)
		if r.status != 400 {
			t.Fatalf("an append whose body begins with a BOM: %d %s; want 400", r.status, r.body)
		}
		if detail, _ := r.json(t)["detail"].(string); !strings.Contains(detail, "byte order mark") || !strings.Contains(detail, "without") {
			t.Errorf("an append whose body begins with a BOM: detail %q; want it to say the body begins with a byte order mark, and to save it without one", detail)
		}
		expectStatus(t, "the stream, after", s.do("GET", "/streams/"+id, ""), 404)
	})
}
