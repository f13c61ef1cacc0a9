package tests

import (
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestADatabaseDroppedUnderTheServiceIs503NamingWhatIsMissing: the service's
// database, or one of its tables, is dropped while it runs (an operator's
// mistake, a restore begun in the wrong place). MySQL answers 1146 (no such
// table), or 1049 (unknown database) to a new connection and 1046 (no
// database selected) on one whose database went: every request was a 500
// "internal error", and /readyz, which only pinged, a 200 or a 500. It is an
// outage an operator must mend: each route answers 503 problem+json whose
// detail says what is missing and what to do, and /readyz says so too.
func TestADatabaseDroppedUnderTheServiceIs503NamingWhatIsMissing(t *testing.T) {
	for _, c := range []struct {
		name, drop string
		want       []string // in the detail
	}{
		// Then the service is restarted: a log made again in place under a
		// running service starts again at position 1, which its live feed,
		// past it, never hands out to the subscribers still connected.
		{"a table", "DROP TABLE %s.events", []string{"table events is missing", "restore the database", "restart the service"}},
		// Sessions opened since are refused the database (1049), those
		// opened before find its tables gone (1146) or none selected (1046):
		// the detail names the database, or the table the request met.
		{"the database", "DROP DATABASE %s", []string{"is missing", "was it dropped?", "restore", "restart the service"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, stream := serveOneEventThenDrop(t, c.drop)
			for _, r := range []struct {
				method, path string
				body         any
			}{
				{http.MethodPost, "/streams/" + stream + "/events", map[string]any{"events": events(1, "Happened")}},
				{http.MethodPost, "/streams/" + uuid.NewString() + "/events", map[string]any{"stream_type": "thing", "events": events(1, "Happened")}},
				{http.MethodGet, "/streams/" + stream, nil},
				{http.MethodGet, "/streams/" + stream + "/events", nil},
				{http.MethodGet, "/events", nil},
				{http.MethodGet, "/readyz", nil},
			} {
				var res *response
				if r.body != nil {
					res = s.post(t, r.path, r.body)
				} else {
					res = s.get(t, r.path)
				}
				if res.Status != http.StatusServiceUnavailable {
					t.Errorf("%s %s with %s dropped: %d %s; want 503", r.method, r.path, c.name, res.Status, res.Body)
					continue
				}
				var p problem
				res.decode(t, &p)
				// No Retry-After: an operator must mend it, no retry does.
				if res.mediaType() != "application/problem+json" || p.Type != problemBase+"unavailable" || res.Header.Get("Retry-After") != "" {
					t.Errorf("%s %s with %s dropped: %s %q, Retry-After %q; want problem+json of type unavailable, without Retry-After",
						r.method, r.path, c.name, res.Header.Get("Content-Type"), p.Type, res.Header.Get("Retry-After"))
				}
				for _, w := range c.want {
					if !strings.Contains(p.Detail, w) {
						t.Errorf("%s %s with %s dropped: detail %q; want it to say %q", r.method, r.path, c.name, p.Detail, w)
					}
				}
			}
			// The store says so once, at ERROR, however many requests
			// meet it (each is also logged at the edge, "request failed").
			var said []string
			for deadline := time.Now().Add(5 * time.Second); len(said) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				for _, l := range s.logLines() {
					if msg, _ := l["msg"].(string); l["level"] == "ERROR" && strings.HasPrefix(msg, "the database's schema is missing") {
						m, _ := l["missing"].(string)
						said = append(said, m)
					}
				}
			}
			if len(said) != 1 || !strings.Contains(said[0], "is missing") {
				t.Errorf("the store's ERROR lines saying what is missing: %q; want one", said)
			}
		})
	}
}

// serveOneEventThenDrop starts a server on a database of its own, appends
// an event to a new stream, and then runs drop (a statement in which %s is
// the database's name) on the database, as an operator would; it returns
// the server and the stream.
func serveOneEventThenDrop(t *testing.T, drop string) (*server, string) {
	t.Helper()
	s := startServer(t, "TRIBUTARY_REQUEST_TIMEOUT=5s")
	stream := newID()
	s.mustAppend(t, stream, map[string]any{"stream_type": "thing", "events": events(1, "Happened")})
	cfg, err := mysql.ParseDSN(s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("mysql", s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec(fmt.Sprintf(drop, cfg.DBName)); err != nil {
		t.Fatal(err)
	}
	return s, stream
}

// TestStartWithAMisspeltDatabaseNameFailsAtOnce: a database that does not
// exist at start-up is a DSN to fix, not an outage to wait out (a database
// dropped while the service runs is one: see above). The api exits at once,
// non-zero, naming the database and what to check, without waiting out
// TRIBUTARY_STARTUP_TIMEOUT.
func TestStartWithAMisspeltDatabaseNameFailsAtOnce(t *testing.T) {
	t.Parallel()
	cfg, err := mysql.ParseDSN(mysqltest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName += "_misspelt"
	start := time.Now()
	code, stdout, stderr := runCommand(t, []string{"TRIBUTARY_ADDR=127.0.0.1:0", "TRIBUTARY_MYSQL_DSN=" + cfg.FormatDSN(), "TRIBUTARY_STARTUP_TIMEOUT=60s"})
	took := time.Since(start)
	if code == 0 || took > 20*time.Second || !strings.Contains(stderr, cfg.DBName+" does not exist") || !strings.Contains(stderr, "check the database name") {
		t.Errorf("DSN naming a database that does not exist: status %d after %v; want non-zero at once, naming the database and what to check. Stdout:\n%s\nStderr:\n%s",
			code, took.Round(time.Millisecond), stdout, stderr)
	}
}

// TestADroppedTablesDetailDoesNotSendTheOperatorToMigrate: a table dropped
// under the service was a 503 whose detail said "restore it or run `api
// migrate`"; but migrate records each step it applied, and does not make
// again a table whose step it has recorded (and were it made again, an
// empty events table would be the log lost without a word). The detail
// says to restore the database, and nothing of migrate, for a table; and
// migrate itself, whose start checks the store's writes, fails at once
// saying to restore (it exited 0; then, once start-up checked the writes,
// it retried the missing table as an outage until its timeout).
func TestADroppedTablesDetailDoesNotSendTheOperatorToMigrate(t *testing.T) {
	t.Parallel()
	s, stream := serveOneEventThenDrop(t, "DROP TABLE %s.events")
	start := time.Now()
	code, stdout, stderr := runCommand(t, s.StoreEnv, "migrate")
	if took := time.Since(start); code == 0 || took > 10*time.Second || !strings.Contains(stderr, "events") || !strings.Contains(stderr, "restore the database from a backup") {
		t.Fatalf("api migrate after the table was dropped: status %d after %v; want non-zero at once, naming the table and saying to restore the database. Stdout:\n%s\nStderr:\n%s",
			code, took.Round(time.Millisecond), stdout, stderr)
	}
	res := s.get(t, "/streams/"+stream+"/events")
	var p problem
	res.decode(t, &p)
	if res.Status != http.StatusServiceUnavailable || !strings.Contains(p.Detail, "table events is missing") {
		t.Fatalf("a read after api migrate, the table dropped: %d %q; want 503 naming the table still missing: migrate did not make it again", res.Status, p.Detail)
	}
	if strings.Contains(p.Detail, "migrate") || !strings.Contains(p.Detail, "restore") {
		t.Errorf("the detail of a dropped table: %q; want it to say to restore the database, and nothing of api migrate, which does not make the table again", p.Detail)
	}
}
