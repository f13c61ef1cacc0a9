package http_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAMissingIndexOrTables503HasNoRetryAfter: README says a 503 for a
// missing index has no Retry-After (no retry mends it: an operator must),
// as a damaged file's has none; the server sent Retry-After: 2 with it, and
// with a missing table's, whose detail says to restore the database and
// restart the service, so that a client obeying it retried every 2 s for
// ever. A missing index's, table's (a column's, the database's) 503 has
// none, on both stores; its detail still says what to mend.
func TestAMissingIndexOrTables503HasNoRetryAfter(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		s := newServer(t, newContract(t), store)
		stream := uuid.NewString()
		expectStatus(t, "append", s.do("POST", "/streams/"+stream+"/events", `{"stream_type":"thing","events":[{"type":"Happened","data":1}]}`), 201)
		noRetryAfter := func(what, method, path, body string) {
			t.Helper()
			r := s.do(method, path, body)
			if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "" {
				t.Errorf("%s: %d, Retry-After %q; want 503 without Retry-After\nbody: %s", what, r.status, r.header.Get("Retry-After"), r.body)
			}
		}
		k.Exec(t, store, "DROP INDEX events_stream_type_position"+map[string]string{"mysql": " ON events", "sqlite": ""}[k.Name])
		noRetryAfter("a read filtered on two stream types, its index dropped", "GET", "/events?stream_type=thing,other", "")
		k.Exec(t, store, "DROP TABLE log_head")
		noRetryAfter("/readyz, log_head dropped", "GET", "/readyz", "")
		noRetryAfter("an append, log_head dropped", "POST", "/streams/"+stream+"/events", `{"events":[{"type":"Happened","data":2}]}`)
	})
}
