package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAnInstanceFrozenInItsTransactionDoesNotBlockTheOthersForGood: two
// instances on one database (a private server), and one of them frozen (a
// process stopped with SIGSTOP, or a network path that stops passing
// anything; here, a proxy that holds its writes and COMMIT back) after its
// append's read took the log's lock. Its session sat idle inside the
// transaction, holding the lock, for as long as the server's wait_timeout
// (8 hours), and every append of the other instance failed at its
// deadline. The server must end such a session once it has sat idle past
// the writer's own bound (shortened here), and the other instance's
// appends then go in: with MariaDB's idle_transaction_timeout, and with
// wait_timeout, as on MySQL.
func TestAnInstanceFrozenInItsTransactionDoesNotBlockTheOthersForGood(t *testing.T) {
	t.Parallel()
	server := mysqltest.StartServer(t)
	t.Run("idle_transaction_timeout", func(t *testing.T) {
		t.Parallel()
		frozenPeerIsEnded(t, mysqltest.NewDatabaseOn(t, server), func(o mysqlstore.Options) mysqlstore.Options { return o })
	})
	t.Run("wait_timeout, as on MySQL", func(t *testing.T) {
		t.Parallel()
		frozenPeerIsEnded(t, mysqltest.NewDatabaseOn(t, server), mysqlstore.WithIdleAsOnMySQL)
	})
}

func frozenPeerIsEnded(t *testing.T, dsn string, way func(mysqlstore.Options) mysqlstore.Options) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.Start(t, cfg.Addr)
	cfg.Addr = proxy.Addr()
	const idle = 6 * time.Second
	frozen := openWithIdle(t, cfg.FormatDSN(), idle, way(mysqlstore.Options{}))
	other := openWithIdle(t, dsn, idle, way(mysqlstore.Options{}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, s := range []*mysqlstore.Store{frozen, other} {
		if _, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream); err != nil {
			t.Fatalf("append before the freeze: %v", err)
		}
	}

	// Its group reads first (a hook before COMMIT sends no group in one
	// round trip), taking the log's lock, and its writes and COMMIT never
	// reach the server.
	frozen.SetBeforeCommit(func() {})
	held, release := proxy.HoldAfter(mysqltest.SendsCommit)
	defer func() {
		select {
		case <-held:
			release()
		default:
		}
	}()
	lost := uuid.New()
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	_, err = appendOne(short, frozen, lost, eventstore.NoStream)
	cancelShort()
	select {
	case <-held:
	default:
		t.Fatalf("the frozen instance's COMMIT never went out (its append: %v)", err)
	}
	if err == nil {
		t.Fatal("the frozen instance's append succeeded; want it to fail, its COMMIT held back")
	}

	// The other instance's append waits for the lock no longer than the
	// frozen session may sit idle, whatever the machine's speed: its
	// deadline only bounds a hang (the writer's own bound is 30 s).
	start := time.Now()
	res, err := appendOne(ctx, other, uuid.New(), eventstore.NoStream)
	if err != nil {
		t.Fatalf("an append through the other instance, %v after one instance froze holding the log's lock: %v; "+
			"want it written once the server has ended the frozen session (idle past %v)", time.Since(start).Round(time.Millisecond), err, idle)
	}
	t.Logf("the other instance's append went in after %v, at position %d", time.Since(start).Round(time.Millisecond), res.Events[0].Position)
	if _, err := other.ReadStream(ctx, lost, eventstore.ReadStreamOptions{}); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("the frozen instance's append, whose COMMIT never reached the server: %v reading its stream; want it not written", err)
	}
}

// TestTheWritersSessionsEndAnIdleTransactionPastTheWritersBound: a writer
// session idle inside its transaction (its process frozen, its network cut)
// holds the log's lock for every instance. Its server must end it a few
// seconds after the writer's own bound on a transaction (sqlstore's
// MaxTxTime): MariaDB's idle_transaction_timeout, on every session of the
// writer's pool; the server's default, 0, never ends it. Where the server
// has none (MySQL), wait_timeout, whose default is 8 hours. A lower bound
// of the DSN's (or the server's) is kept.
func TestTheWritersSessionsEndAnIdleTransactionPastTheWritersBound(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	bound := int(mysqlstore.WriterIdle / time.Second)
	for _, tc := range []struct {
		param, variable string
		asOnMySQL       bool
		want            int
	}{
		{"", "idle_transaction_timeout", false, bound},
		{"idle_transaction_timeout=7", "idle_transaction_timeout", false, 7},
		{"idle_transaction_timeout=3600", "idle_transaction_timeout", false, bound},
		{"", "wait_timeout", true, bound},
		{"wait_timeout=7", "wait_timeout", true, 7},
	} {
		opts := mysqlstore.Options{}
		if tc.asOnMySQL {
			opts = mysqlstore.WithIdleAsOnMySQL(opts)
		}
		s := openWithIdle(t, dsn+paramSep(dsn)+tc.param, 0, opts)
		if !s.MariaDB() {
			t.Skip("idle_transaction_timeout is MariaDB's")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for range 2 { // the pool's size
			conn, err := s.WritesPool().Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var got int
			if err := conn.QueryRowContext(ctx, "SELECT @@SESSION."+tc.variable).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("DSN parameter %q: a writer session's %s is %d; want %d", tc.param, tc.variable, got, tc.want)
			}
		}
		cancel()
	}
}

func paramSep(dsn string) string {
	if strings.Contains(dsn, "?") {
		return "&"
	}
	return "?"
}

// TestAnAppendThatTimesOutOnTheLogsLockSaysOnceWhoHoldsIt: another session
// holds the log's lock (an instance frozen in its transaction; here, a
// session of the test's own) past an append's deadline. The append failed
// with "lock_head: context deadline exceeded", and no log line said which
// session held the lock. The store now logs, once until an append goes in
// again, the oldest transaction open on the database: the holder's
// connection id and what the server says of it.
//
// The holder's transaction begins a second before the appends' (see
// pastTheSecondOf): the store tells transactions' ages by whole seconds,
// and named another session, begun in the same second, once in eight runs.
func TestAnAppendThatTimesOutOnTheLogsLockSaysOnceWhoHoldsIt(t *testing.T) {
	ctx, dsn := guardedTest(t)
	var logged testlog.Buffer
	s := openWithIdle(t, dsn, 0, mysqlstore.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if _, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream); err != nil {
		t.Fatal(err)
	}
	const lock = "SELECT position FROM log_head WHERE id = 1 FOR UPDATE"
	other := otherProcessDB(t, dsn)
	holder := lockRow(ctx, t, other, lock)
	var id int64
	if err := holder.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	pastTheSecondOf(ctx, t, other)
	want := fmt.Sprintf("holder_connection_id=%d ", id)
	timeOut := func(try int) {
		t.Helper()
		short, cancel := context.WithTimeout(ctx, time.Second)
		_, err := appendOne(short, s, uuid.New(), eventstore.NoStream)
		cancel()
		if !errors.Is(err, eventstore.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("try %d: an append while another session held the log's lock past its deadline: %v; want it to fail at its deadline", try, err)
		}
		// The line comes a moment after the append's answer, from a
		// search in the background.
		s.WaitLockHolderSearch()
		if !strings.Contains(logged.String(), want) {
			t.Fatalf("try %d: no log line names connection %d, which holds the log's lock; the log:\n%s", try, id, logged.String())
		}
	}
	timeOut(1)
	timeOut(2)
	if n := strings.Count(logged.String(), want); n != 1 {
		t.Errorf("the holder was named %d times for two appends that timed out behind it; want once. The log:\n%s", n, logged.String())
	}
	// Once an append goes in, the next time the lock is held is named again.
	if _, err := holder.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if _, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream); err != nil {
		t.Fatalf("an append once the lock was free: %v", err)
	}
	lockRowAgain(ctx, t, holder, lock)
	pastTheSecondOf(ctx, t, other)
	timeOut(3)
	if n := strings.Count(logged.String(), want); n != 2 {
		t.Errorf("the holder was named %d times in all, the lock held twice; want twice. The log:\n%s", n, logged.String())
	}
	line := logLine(logged.String(), want)
	for _, says := range []string{"log_head", "Sleep", "idle_transaction_timeout"} {
		if !strings.Contains(line, says) {
			t.Errorf("the line naming the holder does not say %q: %s", says, line)
		}
	}
}

// pastTheSecondOf waits until the server's clock, read with db, has left
// the second it was in when it is called: a transaction that began before
// (the holder's, which has its lock) is then older by that second than any
// that begins after. The store takes the oldest transaction open, by
// INNODB_TRX's trx_started, in whole seconds, for the holder of the log's
// lock (lockHolder), ties broken by the transaction's id: this test keeps
// to what it proves, the holder named once, and lockholder_test.go proves
// which session is named when two began in the same second. The clock,
// not INNODB_TRX: the server refreshes that table's cache only once no one
// has read it for 100 ms, so that two tests reading it in turn see it stale
// for good.
func pastTheSecondOf(ctx context.Context, t *testing.T, db *sql.DB) {
	t.Helper()
	var began int64
	if err := db.QueryRowContext(ctx, "SELECT UNIX_TIMESTAMP()").Scan(&began); err != nil {
		t.Fatalf("read the server's clock: %v", err)
	}
	for {
		var now int64
		if err := db.QueryRowContext(ctx, "SELECT UNIX_TIMESTAMP()").Scan(&now); err != nil {
			t.Fatalf("read the server's clock: %v", err)
		}
		if now > began {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the server's clock stayed at %d: %v", began, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logLine is the first line of log that holds s.
func logLine(log, s string) string {
	for line := range strings.Lines(log) {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// openWithIdle opens and migrates a store on dsn with opts, whose writer
// sessions the server ends after idle inside a transaction (0: the store's
// own bound).
func openWithIdle(t *testing.T, dsn string, idle time.Duration, opts mysqlstore.Options) *mysqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := mysqlstore.Open(ctx, dsn, mysqlstore.WithWriterIdle(opts, idle))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}
