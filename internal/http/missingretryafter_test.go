package http_test

import (
	"net/http"
	"strings"
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

// TestAnUnwrittenColumns503HasNoRetryAfter: a column of streams the store
// does not write, NOT NULL and without a default, refuses every append
// that creates a stream until an operator drops it (its detail says so),
// as a missing column refuses them until one makes it again; the missing
// column's 503 has no Retry-After, this one kept Retry-After: 2, and a
// client obeying it retried every 2 s for ever. It has none now, on both
// stores, and still says how to mend it.
func TestAnUnwrittenColumns503HasNoRetryAfter(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		s := newServer(t, newContract(t), store)
		expectStatus(t, "append", s.do("POST", "/streams/"+uuid.NewString()+"/events", `{"stream_type":"thing","events":[{"type":"Happened","data":1}]}`), 201)
		if k.Name == "sqlite" {
			// SQLite's ALTER TABLE refuses such a column: a table rebuilt by hand can have one.
			k.Exec(t, store, "PRAGMA writable_schema=ON; "+
				"UPDATE sqlite_master SET sql = replace(sql, ') WITHOUT ROWID', ', legacy INT NOT NULL) WITHOUT ROWID') WHERE type = 'table' AND name = 'streams'; "+
				"PRAGMA schema_version = 1000; PRAGMA writable_schema=OFF")
		} else {
			k.Exec(t, store, "ALTER TABLE streams ADD COLUMN legacy INT NOT NULL")
		}
		r := s.do("POST", "/streams/"+uuid.NewString()+"/events", `{"stream_type":"thing","events":[{"type":"Happened","data":2}]}`)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "" {
			t.Fatalf("an append creating a stream, streams.legacy NOT NULL without a default: %d, Retry-After %q; want 503 without Retry-After\nbody: %s",
				r.status, r.header.Get("Retry-After"), r.body)
		}
		if d, _ := r.json(t)["detail"].(string); !strings.Contains(d, "legacy") || !strings.Contains(d, "until an operator") || strings.Contains(d, "Retry-After") {
			t.Errorf("its detail: %q; want it to name the column and what an operator must do, and no Retry-After", d)
		}
	})
}
