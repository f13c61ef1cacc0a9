package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/eventstore/storetest"
	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	b := teststore.MySQL.Backend
	b.BeforeCommit = func(s eventstore.Store, f func()) { s.(*mysqlstore.Store).SetBeforeCommit(f) }
	storetest.Exercise(t, b)
	// The server's packet: no statement larger can reach it, and the
	// writer refuses an append that could not fit one.
	storetest.ExerciseTooLarge(t, b, func(t *testing.T, s eventstore.Store) int {
		t.Helper()
		var packet int
		if err := s.(*mysqlstore.Store).WritesPool().QueryRowContext(t.Context(), "SELECT @@max_allowed_packet").Scan(&packet); err != nil {
			t.Fatal(err)
		}
		return packet
	})
}

// TestConcurrentMigrations starts several stores on an empty database at
// once: each migration is applied exactly once and every start succeeds.
func TestConcurrentMigrations(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{})
			if err != nil {
				t.Errorf("open: %v", err)
				return
			}
			defer s.Close()
			if err := s.Migrate(ctx); err != nil {
				t.Errorf("concurrent migrate: %v", err)
			}
		})
	}
	wg.Wait()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT version_id, COUNT(*) FROM schema_migrations WHERE version_id > 0 GROUP BY version_id ORDER BY version_id")
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var v, c int64
		if err := rows.Scan(&v, &c); err != nil {
			t.Fatal(err)
		}
		n++
		if v != n || c != 1 {
			t.Errorf("migration %d recorded %d times (expected version %d once)", v, c, n)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := int64(migrations.Latest("mysql")); n != want {
		t.Fatalf("%d migrations recorded, want %d", n, want)
	}
}

func TestOpenRefusesDSNWithoutDatabase(t *testing.T) {
	t.Parallel()
	_, err := mysqlstore.Open(context.Background(), "root@tcp(127.0.0.1:3306)/", mysqlstore.Options{})
	if err == nil {
		t.Fatal("Open without a database name succeeded, want an error saying so")
	}
}

func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens, the dial is refused at once.
	_, err := mysqlstore.Open(ctx, "root@tcp(127.0.0.1:1)/x", mysqlstore.Options{})
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("Open of an unreachable server: err = %v, want ErrUnavailable", err)
	}
}

// TestRecordedAtNeverDecreasesAlongTheLog: another process commits an event
// while this store's append waits for the log_head lock. The waiting append
// is stamped after it gets the lock, so its time is not earlier than the
// event committed before it.
func TestRecordedAtNeverDecreasesAlongTheLog(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := mysqltest.NewDatabase(t)
	s := teststore.OpenMySQL(t, dsn)
	db, err := sql.Open("mysql", dsn+"?parseTime=true&loc=UTC")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, err := db.BeginTx(ctx, nil) // the other process's append
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback() //nolint:errcheck
	if _, err := other.ExecContext(ctx, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan eventstore.AppendResult, 1)
	go func() {
		res, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Waited", Data: []byte("{}")}}})
		if err != nil {
			t.Errorf("append: %v", err)
		}
		done <- res
	}()
	time.Sleep(300 * time.Millisecond) // the append is now waiting for the lock
	id := uuid.New()
	if _, err := other.ExecContext(ctx, "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at) "+
		"VALUES (1, ?, ?, 1, 't', 'First', '{}', UTC_TIMESTAMP(6))", id[:], id[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, "UPDATE log_head SET position = 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	res := <-done
	var first time.Time
	if err := db.QueryRowContext(ctx, "SELECT recorded_at FROM events WHERE position = 1").Scan(&first); err != nil {
		t.Fatal(err)
	}
	if got := res.Events[0]; got.Position != 2 || got.RecordedAt.Before(first) {
		t.Fatalf("the append that waited got position %d recorded at %s; want position 2 at or after %s, the time of position 1",
			got.Position, got.RecordedAt.Format(time.RFC3339Nano), first.Format(time.RFC3339Nano))
	}
}

// TestAGroupBegunWithTheLastCommitBeginsAgainIfItsReadsFail: appends that
// queue behind a commit have their transaction begun in the round trip of
// that COMMIT, bounded by the earlier group's deadline. Here another process
// takes the log's lock between the two and holds it past that deadline, which
// cuts the queued group's reads: the queued append must begin again with its
// own deadline and succeed once the lock is free, and the earlier one is
// answered at its COMMIT.
func TestAGroupBegunWithTheLastCommitBeginsAgainIfItsReadsFail(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := mysqltest.NewDatabase(t)
	s := teststore.OpenMySQL(t, dsn)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	held, release := make(chan struct{}), make(chan struct{})
	var once, released sync.Once
	s.SetBeforeCommit(func() {
		once.Do(func() {
			close(held)
			<-release
		})
	})
	unhold := func() { released.Do(func() { close(release) }) }
	defer unhold() // before the store closes, if the test ends early
	appendOne := func(ctx context.Context, done chan<- error) {
		_, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte("{}")}}})
		done <- err
	}
	firstCtx, firstCancel := context.WithTimeout(ctx, 3*time.Second)
	defer firstCancel()
	firstDone, queuedDone := make(chan error, 1), make(chan error, 1)
	go appendOne(firstCtx, firstDone)
	<-held
	go appendOne(ctx, queuedDone)
	time.Sleep(50 * time.Millisecond) // the second append queues behind the first: not asserted

	// The other process asks for the lock while the first group holds it,
	// so it gets it at that COMMIT, before the queued group's reads.
	other, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback() //nolint:errcheck
	locked := make(chan error, 1)
	go func() {
		_, err := other.ExecContext(ctx, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE")
		locked <- err
	}()
	waitForALockWait(ctx, t, db, locked)
	unhold()
	if err := <-locked; err != nil {
		t.Fatal(err)
	}
	if err := <-firstDone; err != nil {
		t.Fatalf("the first append, committed before the other process took the lock: %v; want success", err)
	}
	<-firstCtx.Done() // the queued group's first reads are cut about now
	select {
	case err := <-queuedDone:
		t.Fatalf("the queued append returned (%v) while the other process held the lock", err)
	default:
	}
	if err := other.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-queuedDone; err != nil {
		t.Fatalf("the queued append, once the lock was free: %v; want success", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d events in the log, want 2", n)
	}
}

// waitForALockWait returns once a transaction in the database db is on waits
// for a row lock. It fails the test if the statement expected to wait
// reports on done first: it did not wait.
func waitForALockWait(ctx context.Context, t *testing.T, db *sql.DB, done <-chan error) {
	t.Helper()
	start, dumped := time.Now(), false
	for {
		select {
		case err := <-done:
			t.Fatalf("the statement expected to wait for the lock ended first (%v): the lock was not held; the database's connections:\n%s", err, connections(db))
		default:
		}
		if time.Since(start) > 5*time.Second && !dumped {
			dumped = true
			t.Logf("no lock wait after 5 s; the database's connections:\n%s", connections(db))
		}
		// A locking read of a row found by its primary key can wait in the
		// optimizer (state "Statistics") before INNODB_TRX lists its
		// transaction: a FOR UPDATE running for 200 ms is waiting too.
		var waiting int
		err := db.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM information_schema.INNODB_TRX t "+
			"JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "+
			"WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()) + "+
			"(SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND COMMAND = 'Query' "+
			"AND INFO LIKE '%FOR UPDATE' AND TIME_MS > 200)").Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for a transaction in a lock wait: %v; the database's connections:\n%s", ctx.Err(), connections(db))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// connections describes what the connections to db's database are doing,
// for a failure message.
func connections(db *sql.DB) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SELECT p.ID, p.COMMAND, p.TIME, COALESCE(p.STATE, ''), COALESCE(p.INFO, ''), COALESCE(t.trx_state, '') "+
		"FROM information_schema.PROCESSLIST p LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID WHERE p.DB = DATABASE()")
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, secs int64
		var command, state, info, trx string
		if err := rows.Scan(&id, &command, &secs, &state, &info, &trx); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "  %d %s %ds state=%q trx=%q: %.120s\n", id, command, secs, state, trx, info)
	}
	return b.String()
}

// TestReadsOfOneServerDoNotLag: one MariaDB server, no replica, not a
// Galera node: every acknowledged append is visible to the store's reads at
// once, so the HTTP layer refuses a Tributary-Min-Position past the head at
// once rather than wait for it (ReadsMayLag; a Galera node's and a
// replica's reads may lag, and are waited for).
func TestReadsOfOneServerDoNotLag(t *testing.T) {
	t.Parallel()
	if s := teststore.OpenMySQL(t, mysqltest.NewDatabase(t)); s.ReadsMayLag() {
		t.Error("ReadsMayLag on one server without a replica; want false")
	}
}

// TestADSNMissingItsAtSignIsRefusedWithoutQuotingThePassword: without the @
// after the password, the driver takes user:password for the protocol
// ("root:pw/db", "root:pw(host:3306)/db"), and quoted it: in its parse
// error ("default addr for network 'root:pw' unknown"), and in the dial
// error of every start-up retry ("unknown network root:pw"), for the
// primary and for a read replica. Each must be refused at once, saying
// what is wrong, never with the password.
func TestADSNMissingItsAtSignIsRefusedWithoutQuotingThePassword(t *testing.T) {
	t.Parallel()
	const pw = "s3cret-Pw"
	for _, tc := range []struct{ dsn, readDSN string }{
		{"tributary:" + pw + "/tributary", ""},
		{"tributary:" + pw + "(127.0.0.1:3306)/tributary", ""},
		{"tributary:" + pw + "(127.0.0.1:3306,127.0.0.1:3307)/tributary", ""},
		{"tributary:" + pw + "#tcp(127.0.0.1:3306)/tributary", ""},
		{"", "tributary:" + pw + "(127.0.0.1:3306)/tributary"},
		{"", "tributary:" + pw + "/tributary"},
	} {
		openRefused(t, tc.dsn, tc.readDSN, pw, "")
	}
}

// TestADSNWhoseAddressIsNotInParenthesesSaysWhatToWrite: a DSN written as
// a URL (mysql://user:pw@host:3306/db) or with its address not in the
// driver's protocol(address) form (user:pw@127.0.0.1:3306/db,
// user:pw@localhost/db, user:pw@tcp[host:3306]/db) got the driver's
// "default addr for network '…' unknown", which says nothing of what to
// write (the operator tester's F1); a URL with the address in parentheses
// was taken as user "mysql" with a password starting "//". Each is
// refused at once saying the form to write, for the primary and a read
// replica, never with the password.
func TestADSNWhoseAddressIsNotInParenthesesSaysWhatToWrite(t *testing.T) {
	t.Parallel()
	const pw = "s3cret-Pw"
	for _, dsn := range []string{
		"tributary:" + pw + "@127.0.0.1:3306/tributary",
		"tributary:" + pw + "@localhost/tributary",
		"tributary:" + pw + "@tcp[127.0.0.1:3306]/tributary",
		"mysql://tributary:" + pw + "@127.0.0.1:3306/tributary",
		"MySQL://tributary:" + pw + "@tcp(127.0.0.1:3306)/tributary",
		"mariadb://tributary:" + pw + "@127.0.0.1/tributary",
	} {
		openRefused(t, dsn, "", pw, "user:password@tcp(host:3306)/dbname")
		openRefused(t, "", dsn, pw, "user:password@tcp(host:3306)/dbname")
	}
}

// openRefused opens dsn (a new database's, if empty) with readDSN as its
// read replica, expecting an error at once that is not ErrUnavailable (no
// retry helps), does not hold secret and, unless want is empty, holds want
// in any letter case.
func openRefused(t *testing.T, dsn, readDSN, secret, want string) {
	t.Helper()
	given := dsn
	if dsn == "" {
		dsn = mysqltest.NewDatabase(t)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{ReadDSN: readDSN, AllowUnsafeDurability: true})
	if err == nil {
		s.Close()
		t.Errorf("Open(%q, read %q): expected an error, got none", given, readDSN)
		return
	}
	if strings.Contains(err.Error(), secret) || errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(strings.ToLower(err.Error()), want) {
		t.Errorf("Open(%q, read %q): expected an error that is not ErrUnavailable (no retry helps), holds no secret and says %q, got %v", given, readDSN, want, err)
	}
}

// TestASystemSchemaIsRefusedAsTheDatabase: a DSN ending in /mysql (or
// another of the server's own schemas) was migrated: Tributary's tables
// were created among the server's grant and time-zone tables. It must be
// refused before connecting. (The address is unreachable, so that an
// Open that does not refuse it cannot create anything.)
func TestASystemSchemaIsRefusedAsTheDatabase(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"mysql", "MySQL", "information_schema", "performance_schema", "sys"} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err := mysqlstore.Open(ctx, "root@tcp(127.0.0.1:1)/"+db, mysqlstore.Options{})
		cancel()
		if err == nil || errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "the server's own") {
			t.Errorf("Open of a DSN naming the database %s: expected a refusal saying it is the server's own schema, got %v", db, err)
		}
		ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
		s, err := mysqlstore.Open(ctx, mysqltest.NewDatabase(t), mysqlstore.Options{ReadDSN: "root@tcp(127.0.0.1:1)/" + db, AllowUnsafeDurability: true})
		cancel()
		if err == nil {
			s.Close()
		}
		if err == nil || errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "the server's own") {
			t.Errorf("Open with a read replica DSN naming the database %s: expected a refusal saying it is the server's own schema, got %v", db, err)
		}
	}
}

// TestADSNWithAnImpossiblePortIsRefusedAtOnce: tcp(host:99999) or
// tcp(host:-1) failed every dial with "invalid port", which start-up took
// for a database not up yet and retried for TRIBUTARY_STARTUP_TIMEOUT.
// No retry can help; it must be refused at once, not as ErrUnavailable.
// So must an empty port (tcp(host:), which dialled port 0), a name the
// system does not know as a service (tcp(host:abc): "unknown port") and
// brackets that do not enclose the host alone (tcp([::1:3306), shown as
// [[[::1:3306]:3306]:3306), each quoting the address as given (a black-box
// tester found them retried).
func TestADSNWithAnImpossiblePortIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"127.0.0.1:99999", "127.0.0.1:-1", "127.0.0.1:0", "[::1]:65536", "127.0.0.1:3306,127.0.0.1:99999",
		"127.0.0.1:", "127.0.0.1:abc", "[::1:3306", "::1]:3306", "[::1]", "127.0.0.1:3306,127.0.0.1:", "127.0.0.1:3306,127.0.0.1:abc", "127.0.0.1:3306,[::1:3306"} {
		for _, opts := range []mysqlstore.Options{{}, {ReadDSN: "root@tcp(" + addr + ")/x"}} {
			dsn := "root@tcp(" + addr + ")/x"
			if strings.Contains(addr, ",") && opts.ReadDSN != "" {
				continue // a replica is one server
			}
			if opts.ReadDSN != "" {
				dsn = mysqltest.NewDatabase(t)
				opts.AllowUnsafeDurability = true
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			s, err := mysqlstore.Open(ctx, dsn, opts)
			cancel()
			if err == nil {
				s.Close()
			}
			given := addr[strings.LastIndex(addr, ",")+1:]
			if err == nil || errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "port") ||
				!strings.Contains(err.Error(), "address "+given+" ") || strings.Contains(err.Error(), "[[") {
				t.Errorf("Open with the address %s (read replica: %t): expected a refusal naming the port, quoting the address %s as given, not ErrUnavailable; got %v", addr, opts.ReadDSN != "", given, err)
			}
		}
	}
}

// TestADSNParameterNamedPasswordIsRefused: the driver sends a DSN parameter
// it does not know as a SET of that name on every connection, so
// ?password=… (a password put where a URL would have it) would run SET
// password=… as the service's user, which on MySQL changes that user's
// password, and quote it in any error. Each must be refused at once,
// before any connection, without quoting the value. (The servers named are
// on port 1, where none listens: no SET can reach a real server even
// before the fix.)
func TestADSNParameterNamedPasswordIsRefused(t *testing.T) {
	t.Parallel()
	const pw = "s3cret-Pw"
	for _, tc := range []struct{ dsn, readDSN string }{
		{"tributary@tcp(127.0.0.1:1)/tributary?password=" + pw, ""},
		{"tributary@tcp(127.0.0.1:1)/tributary?parseTime=true&PASSWD=" + pw, ""},
		{"tributary@tcp(127.0.0.1:1)/tributary?pwd=" + pw, ""},
		{"", "tributary@tcp(127.0.0.1:1)/tributary?Password=" + pw},
	} {
		openRefused(t, tc.dsn, tc.readDSN, pw, "password")
	}
}
