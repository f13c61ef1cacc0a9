package http_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAStreamRowMissingIsNotCalledADamagedFileToRestore: a stream whose
// events are there but whose row of streams is missing (a restore from
// dumps taken apart, a DELETE by hand) is damage the store refuses
// (ErrDamaged), and its 503 said "the server's database file is damaged
// ... restores it from a backup": wrong on MySQL, which has no such file,
// and wrong on either store, since one SQL statement (in the server's log)
// mends it. Its detail now says the database holds damage and that the
// server's log says how to mend it, nothing of a file or a backup; it
// still says the append was not written. On both stores.
func TestAStreamRowMissingIsNotCalledADamagedFileToRestore(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		s := newServer(t, nil, store)
		id := uuid.NewString()
		expectStatus(t, "the first append", s.do(http.MethodPost, "/streams/"+id+"/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`), http.StatusCreated)
		k.Exec(t, store, "DELETE FROM streams")
		if k.OpenAgain != nil {
			// Another process, whose writer knows nothing of the stream
			// from a commit of its own (as sqlstore's
			// TestAStreamWhoseRowIsMissingIsDamageNotANewStream).
			s = newServer(t, nil, k.OpenAgain(t, store))
		}
		for _, req := range []struct{ method, path, body string }{
			{http.MethodGet, "/streams/" + id, ""},
			{http.MethodPost, "/streams/" + id + "/events", `{"events":[{"type":"X","data":2}]}`},
		} {
			r := s.do(req.method, req.path, req.body)
			var p struct{ Detail string }
			if r.status != http.StatusServiceUnavailable || json.Unmarshal(r.body, &p) != nil {
				t.Fatalf("%s %s with its row of streams missing: %d %s; want a 503 problem", req.method, req.path, r.status, r.body)
			}
			if strings.Contains(p.Detail, "file") || strings.Contains(p.Detail, "backup") || !strings.Contains(p.Detail, "log") {
				t.Errorf("%s %s with its row of streams missing: detail %q; want one that speaks of no file nor backup and points to the server's log", req.method, req.path, p.Detail)
			}
			if wantWritten := req.method == http.MethodPost; strings.Contains(p.Detail, "not written") != wantWritten {
				t.Errorf("%s %s: detail %q; want \"not written\" only for an append", req.method, req.path, p.Detail)
			}
		}
	})
}
