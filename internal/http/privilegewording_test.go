package http_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAPrivilegeRefusedIsSaidSoNotAnOutage: with INSERT revoked from the
// service's user while it runs, an append's 503 said the database "cannot
// be reached, or cannot write, right now", the words of an outage, which
// send an operator to the network; with SELECT revoked, a read's and
// /readyz's said it "cannot be reached". Each says the privilege the
// database denies, on which table, and the GRANT that mends it, never the
// user's name nor its password. A private server with grant tables: the
// user and its grants are its own.
func TestAPrivilegeRefusedIsSaidSoNotAnOutage(t *testing.T) {
	t.Parallel()
	server := mysqltest.NewServer(t, "--skip-grant-tables=0")
	root := server.CreateDatabase(t, "denied")
	teststore.OpenMySQL(t, root) // migrated by its owner
	server.Exec(t, "CREATE USER 'svcuser'@'127.0.0.1' IDENTIFIED BY 'svc-secret-pw'")
	for _, table := range []string{"events", "streams", "log_head", "durability_fence", "writer_lease", "schema_migrations"} {
		server.Exec(t, "GRANT SELECT, INSERT, UPDATE ON denied."+table+" TO 'svcuser'@'127.0.0.1'")
	}
	store := teststore.OpenMySQL(t, strings.Replace(root, "root@", "svcuser:svc-secret-pw@", 1))
	s := metricsServer(t, store, esthttp.Options{})
	stream := uuid.NewString()
	appendBody := `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	if r := s.do(http.MethodPost, "/streams/"+stream+"/events", appendBody); r.status != http.StatusCreated {
		t.Fatalf("an append before the REVOKE: %d %s", r.status, r.body)
	}
	check := func(what string, r response, want ...string) {
		t.Helper()
		if r.status != http.StatusServiceUnavailable {
			t.Fatalf("%s: %d %s; want 503", what, r.status, r.body)
		}
		for _, w := range want {
			if !strings.Contains(string(r.body), w) {
				t.Errorf("%s: %s; want it to say %q", what, r.body, w)
			}
		}
		for _, never := range []string{"cannot be reached", "svcuser", "svc-secret-pw", "127.0.0.1"} {
			if strings.Contains(string(r.body), never) {
				t.Errorf("%s: %s; want it without %q", what, r.body, never)
			}
		}
	}

	server.Exec(t, "REVOKE INSERT ON denied.events FROM 'svcuser'@'127.0.0.1'")
	check("an append with INSERT revoked on events", s.do(http.MethodPost, "/streams/"+stream+"/events", appendBody),
		"denies the service's user the INSERT privilege on its table events", "GRANT INSERT ON <database>.events", "This append was not written")

	server.Exec(t, "REVOKE SELECT ON denied.events FROM 'svcuser'@'127.0.0.1'")
	check("a page of the log with SELECT revoked on events", s.do(http.MethodGet, "/events", ""),
		"denies the service's user the SELECT privilege on its table events", "GRANT SELECT ON <database>.events")
	// /readyz meets the refusal reads meet (on a session opened since
	// it: regrant.go).
	check("/readyz with SELECT revoked on events", s.do(http.MethodGet, "/readyz", ""),
		"denies the service's user the SELECT privilege on its table events", "GRANT SELECT ON <database>.events")
}

// TestARefusalOtherThanAPrivilegeIsSaidSoNotAnOutage: the database's other
// refusals of the service's user or its writes (its account locked, its
// password changed, the server read-only; errors as the MySQL store makes
// them) were an outage's "cannot be reached" too. They say the database
// refuses, and that the server's log says which.
func TestARefusalOtherThanAPrivilegeIsSaidSoNotAnOutage(t *testing.T) {
	t.Parallel()
	locked := fmt.Errorf("read: %w: %w: the database refuses the DSN's user a new session: its account is locked: Error 4151",
		eventstore.ErrUnavailable, eventstore.ErrRefused)
	s := metricsServer(t, failingStore{err: locked}, esthttp.Options{})
	for _, r := range []response{s.do(http.MethodGet, "/events", ""), s.do(http.MethodGet, "/readyz", ""),
		s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`)} {
		body := string(r.body)
		if r.status != http.StatusServiceUnavailable || !strings.Contains(body, "refuses the service's user or its writes") ||
			!strings.Contains(body, "server's log says which") || strings.Contains(body, "cannot be reached") {
			t.Errorf("a request refused the user (its account locked): %d %s; want a 503 saying the database refuses the user, not that it cannot be reached", r.status, body)
		}
	}
}

// TestAPrivilegeRefusedByTheReadReplicaNamesTheReplicasUser: a privilege
// refused on the read replica (TRIBUTARY_MYSQL_READ_DSN's user) was said
// as the primary's ("the database denies … TO the DSN's user"), sending an
// operator to the primary. It names the read replica and its DSN's user,
// and never the replica's address (errors as the MySQL store makes them).
func TestAPrivilegeRefusedByTheReadReplicaNamesTheReplicasUser(t *testing.T) {
	t.Parallel()
	denied := &eventstore.PrivilegeError{Privilege: "SELECT", Table: "events", Replica: true, Err: fmt.Errorf("Error 1142")}
	refused := fmt.Errorf("read: %w: the read replica at 10.0.0.7:3306: %w: %w", eventstore.ErrUnavailable, denied, eventstore.ErrRefused)
	s := metricsServer(t, failingStore{err: refused}, esthttp.Options{})
	r := s.do(http.MethodGet, "/events", "")
	body := string(r.body)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(body, "The read replica denies the service's user the SELECT privilege on its table events") ||
		!strings.Contains(body, "GRANT SELECT ON <database>.events TO the user of TRIBUTARY_MYSQL_READ_DSN") ||
		strings.Contains(body, "the DSN's user") || strings.Contains(body, "10.0.0.7") {
		t.Errorf("a read refused SELECT by the read replica: %d %s; want a 503 naming the read replica and TRIBUTARY_MYSQL_READ_DSN's user, without its address", r.status, body)
	}
}
