package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAnAppendCommittedBeforeTheUsersQueryLimitIsNeverSaidNotWritten: an
// account's MAX_QUERIES_PER_HOUR (error 1226) refuses the statement that
// goes past it, which may be one sent after COMMIT in the same round trip
// (the time a guarded group reads back, the marker before the next group's
// reads): the append has committed. It was answered as unavailable with
// nothing written, a 503 that says to send it again (without ids: its
// events twice). An append that meets the limit must be answered with its
// result, or as not written if it was not, or as of unknown outcome;
// never as not written when it was. On a private server, with its grant
// tables: another connection of the user spends all but j of the hour's
// queries before each append, for each j up to more than an append takes.
func TestAnAppendCommittedBeforeTheUsersQueryLimitIsNeverSaidNotWritten(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const hourly = 1000
	server, root, dsn := limitedUser(t, "querylimit", hourly)
	s, _ := openCounted(t, dsn)
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)
	rootDB := otherProcessDB(t, root)
	spender, err := otherProcessDB(t, dsn+"?multiStatements=true").Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { spender.Close() })
	version := int64(1)
	for left := 1; left <= 12; left++ {
		id := uuid.New()
		server.Exec(t, "FLUSH USER_RESOURCES")
		if _, err := spender.ExecContext(ctx, strings.Repeat("DO 1;", hourly-left-1)+"DO 1"); err != nil {
			t.Fatalf("spending all but %d of the hour's queries: %v", left, err)
		}
		_, err := appendOne(ctx, s, stream, eventstore.Exactly(version), id)
		server.Exec(t, "FLUSH USER_RESOURCES")
		var stored int
		if qerr := rootDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM events WHERE event_id = ?", id[:]).Scan(&stored); qerr != nil {
			t.Fatal(qerr)
		}
		switch {
		case err == nil && stored != 1:
			t.Fatalf("%d queries left: the append succeeded, and its event is not stored", left)
		case err != nil && stored == 1 && !errors.Is(err, eventstore.ErrOutcomeUnknown):
			t.Errorf("%d queries left in the hour: the append failed with %v, which does not wrap ErrOutcomeUnknown; its event is stored", left, err)
		case err != nil && stored == 0 && !errors.Is(err, eventstore.ErrUnavailable):
			t.Errorf("%d queries left in the hour: the append, not stored, failed with %v; want an error wrapping ErrUnavailable", left, err)
		}
		if stored == 1 {
			version++
		}
		// An append without the limit near: the writer knows the stream
		// again (a failed group forgets it), and the next goes in one
		// round trip.
		if _, err := appendOne(ctx, s, stream, eventstore.Exactly(version)); err != nil {
			t.Fatalf("an append with the hour's queries left: %v", err)
		}
		version++
	}
}

// TestAnAppendThatCannotConnectAtTheUsersConnectionLimitIsNotWritten: an
// account's connection limit (1226) refuses a new connection before
// anything is sent; a group sent in one round trip that cannot get one has
// written nothing, and must say so (a 503, not written), not that its
// outcome is unknown, which it said once 1226 was settled as a lost
// answer: settling it found no connection either. On a private server,
// with its grant tables: the store's connections are killed, and another
// process takes every connection the user may hold.
func TestAnAppendThatCannotConnectAtTheUsersConnectionLimitIsNotWritten(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t, "--skip-grant-tables=0")
	root := server.CreateDatabase(t, "connlimit")
	server.Exec(t, "CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pw' WITH MAX_USER_CONNECTIONS 12", "GRANT ALL ON connlimit.* TO 'app'@'127.0.0.1'")
	dsn := strings.Replace(root, "root@", "app:app-pw@", 1)
	s, _ := openCounted(t, dsn)
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 2) // the writer knows the stream: the next goes in one round trip
	rootDB := otherProcessDB(t, root)
	killSessionsOf(ctx, t, rootDB, "app")
	other, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	var held []*sql.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := other.Conn(ctx)
		if err != nil {
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != 1226 {
				if time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond) // a killed session may not be gone yet
					continue
				}
				t.Fatalf("taking the user's connections: %v; want error 1226 at its limit", err)
			}
			break
		}
		held = append(held, c)
		if len(held) > 12 {
			t.Fatal("the user's connection limit did not hold")
		}
	}
	id := uuid.New()
	_, err = appendOne(ctx, s, stream, eventstore.Exactly(2), id)
	var stored int
	if qerr := rootDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM events WHERE event_id = ?", id[:]).Scan(&stored); qerr != nil {
		t.Fatal(qerr)
	}
	if stored != 0 || !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrOutcomeUnknown) {
		t.Errorf("an append that could not connect, the user at its connection limit: %v, %d events stored; "+
			"want an error wrapping ErrUnavailable, not ErrOutcomeUnknown, and nothing stored", err, stored)
	}
}

// TestAnAppendPastTheUsersQueryLimitIsNotWritten: once an account has spent
// its MAX_QUERIES_PER_HOUR, the server refuses each of its statements, with
// error 1226, before it runs it. A group sent in one round trip that met
// the refusal was settled as one whose answer was lost, and settling, its
// statements refused too, could not find out: every such append was
// answered as of unknown outcome for the rest of the hour, with nothing
// written. It must be answered as unavailable and not written. On a
// private server, with its grant tables: another connection of the user
// spends the hour's queries, then each append meets the limit.
func TestAnAppendPastTheUsersQueryLimitIsNotWritten(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const hourly = 1000
	_, root, dsn := limitedUser(t, "pastlimit", hourly)
	s, _ := openCounted(t, dsn)
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 2) // the writer knows the stream: the next goes in one round trip
	rootDB := otherProcessDB(t, root)
	spender := otherProcessDB(t, dsn+"?multiStatements=true")
	spender.ExecContext(ctx, strings.Repeat("DO 1;", hourly)+"DO 1") //nolint:errcheck // it ends at the limit
	var me *mysql.MySQLError
	if _, err := spender.ExecContext(ctx, "DO 1"); !errors.As(err, &me) || me.Number != 1226 {
		t.Fatalf("a statement after the hour's queries were spent: %v; want error 1226", err)
	}
	for i := range 3 {
		id := uuid.New()
		_, err := appendOne(ctx, s, stream, eventstore.Exactly(2), id)
		var stored int
		if qerr := rootDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM events WHERE event_id = ?", id[:]).Scan(&stored); qerr != nil {
			t.Fatal(qerr)
		}
		if stored != 0 || !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrOutcomeUnknown) {
			t.Errorf("append %d past the user's hourly query limit: %v, %d events stored; "+
				"want an error wrapping ErrUnavailable, not ErrOutcomeUnknown, and nothing stored", i, err, stored)
		}
	}
}

// limitedUser starts a private server with its grant tables, creates the
// database name on it and a user app allowed hourly queries an hour on it,
// its count of them reset, and returns the server, root's DSN of the
// database and app's.
func limitedUser(t *testing.T, name string, hourly int) (server *mysqltest.Server, root, dsn string) {
	t.Helper()
	server = mysqltest.NewServer(t, "--skip-grant-tables=0")
	root = server.CreateDatabase(t, name)
	server.Exec(t, fmt.Sprintf("CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pw' WITH MAX_QUERIES_PER_HOUR %d", hourly),
		"GRANT ALL ON "+name+".* TO 'app'@'127.0.0.1'")
	server.Exec(t, "FLUSH USER_RESOURCES")
	return server, root, strings.Replace(root, "root@", "app:app-pw@", 1)
}

// killSessionsOf kills every session of user on db's server (a private
// one: the shared server's users are the tests' own), as an operator's
// KILL would, so that the store's next statements need new sessions.
func killSessionsOf(ctx context.Context, t *testing.T, db *sql.DB, user string) {
	t.Helper()
	rows, err := db.QueryContext(ctx, "SELECT id FROM information_schema.processlist WHERE user = ?", user)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		db.ExecContext(ctx, "KILL ?", id) //nolint:errcheck // one may have closed
	}
}
