package mysqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

func TestReplicaCommitOrderIsKeptOrRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		vars    map[string]string
		refused bool
	}{
		{"MariaDB, one thread", map[string]string{"version": "10.11.19-MariaDB", "slave_parallel_threads": "0", "slave_parallel_mode": "optimistic"}, false},
		{"MariaDB, parallel optimistic", map[string]string{"version": "10.11.19-MariaDB", "slave_parallel_threads": "4", "slave_parallel_mode": "optimistic"}, false},
		{"MariaDB, parallel conservative", map[string]string{"version": "11.4.2-MariaDB-log", "slave_parallel_threads": "2", "slave_parallel_mode": "conservative"}, false},
		{"MySQL 8.4, parallel, order kept", map[string]string{"version": "8.4.0", "replica_parallel_workers": "4", "replica_preserve_commit_order": "ON"}, false},
		{"MySQL 8.4, parallel, order not kept", map[string]string{"version": "8.4.0", "replica_parallel_workers": "4", "replica_preserve_commit_order": "OFF"}, true},
		{"MySQL 8.0, one worker", map[string]string{"version": "8.0.20", "slave_parallel_workers": "1", "slave_preserve_commit_order": "OFF"}, false},
		{"MySQL 8.0, parallel, order not kept", map[string]string{"version": "8.0.20", "slave_parallel_workers": "8", "slave_preserve_commit_order": "0"}, true},
		{"MySQL 8.0, parallel, order kept", map[string]string{"version": "8.0.20", "slave_parallel_workers": "8", "slave_preserve_commit_order": "1"}, false},
	}
	for _, tc := range cases {
		order, err := commitOrder(tc.vars)
		switch {
		case tc.refused && (err == nil || !strings.Contains(err.Error(), "replica_preserve_commit_order")):
			t.Errorf("%s: expected a refusal naming replica_preserve_commit_order, got %q, %v", tc.name, order, err)
		case !tc.refused && (err != nil || order == ""):
			t.Errorf("%s: expected the commit order kept and said how, got %q, %v", tc.name, order, err)
		}
	}
}

// TestOpenRefusesAReadReplicaWhenThePrimaryHasNoBinaryLog: nothing can
// replicate from such a server, and the guarantees of replica.go rest on
// its binary log.
func TestOpenRefusesAReadReplicaWhenThePrimaryHasNoBinaryLog(t *testing.T) {
	t.Parallel()
	// A private server, whose binary log is off (mysqltest's default); its
	// "replica", another server's database: one on the primary's own server
	// is refused as such.
	dsn := mysqltest.NewServer(t).CreateDatabase(t, "tributary")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, dsn, Options{ReadDSN: mysqltest.NewDatabase(t)})
	if err == nil {
		s.Close()
		t.Fatal("Open with a read replica of a primary whose binary log is off succeeded, want a refusal")
	}
	if !strings.Contains(err.Error(), "binary log is off") {
		t.Errorf("Open: expected an error saying the primary's binary log is off, got %v", err)
	}
}

// TestAReplicaUserWithoutReplicaMonitorIsWarnedNotRefused: the service's
// database user needs no privilege to read replication status (REPLICA
// MONITOR, REPLICATION CLIENT); without it the start-up check says it could
// not look, rather than refusing to start. Granted later, it is the
// sessions opened after that which have it (a global privilege is a
// session's from its start), and the pool's live up to 30 min: /readyz
// said "not known" on, and the warning did not say to restart.
func TestAReplicaUserWithoutReplicaMonitorIsWarnedNotRefused(t *testing.T) {
	t.Parallel()
	cfg, reader := readerWithoutReplicaMonitor(t, mysqltest.NewDatabase(t))
	var logged bytes.Buffer
	s := &Store{log: slog.New(slog.NewJSONHandler(&logged, nil)), replica: cfg, feed: reader}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.checkReplica(ctx); err != nil {
		t.Fatalf("checkReplica with a user that may not read replication status: expected a warning, got %v", err)
	}
	if !strings.Contains(logged.String(), "REPLICA MONITOR") {
		t.Errorf("expected a warning naming the missing privilege (REPLICA MONITOR), logged:\n%s", logged.String())
	}
	if !strings.Contains(logged.String(), "restart") {
		t.Errorf("expected the warning to say to restart the service once the privilege is granted (sessions open keep what they had), logged:\n%s", logged.String())
	}
}

// TestAReplicaUserWithoutReplicaMonitorStillHasItsLagMeasured: lag in
// positions is measured on log_head, which needs no privilege, so a user
// without REPLICA MONITOR still has it, in /readyz and the metric; only what
// SHOW REPLICA STATUS says is unknown (seconds -1, replicating false). The
// status's access denied failed the whole measurement: /readyz answered 500
// "internal error" for ever, and the metric was NaN.
func TestAReplicaUserWithoutReplicaMonitorStillHasItsLagMeasured(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	migrated, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	defer migrated.Close()
	if err := migrated.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	cfg, reader := readerWithoutReplicaMonitor(t, dsn)
	s := &Store{log: slog.New(slog.DiscardHandler), replica: cfg, feed: reader, primary: migrated.primary}
	lag, err := s.ReplicaLag(ctx)
	if err != nil {
		t.Fatalf("ReplicaLag with a user that may not read replication status: %v; want the lag in positions, the status unknown", err)
	}
	if lag.Positions != 0 || lag.Seconds != -1 || lag.Replicating {
		t.Errorf("ReplicaLag with a user that may not read replication status: %+v; want 0 positions, -1 seconds, not known to replicate", lag)
	}
	if m := s.lagForMetrics(); math.IsNaN(m) || m != 0 {
		t.Errorf("the lag metric with a user that may not read replication status: %v, want 0", m)
	}
}

// readerWithoutReplicaMonitor makes a user that may only SELECT in dsn's
// database, and returns its DSN's config and a pool of its connections.
func readerWithoutReplicaMonitor(t *testing.T, dsn string) (*mysql.Config, *sql.DB) {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	user := "trib_" + strings.TrimPrefix(cfg.DBName, "tributary_test_")
	for _, q := range []string{
		"CREATE USER '" + user + "'@'%' IDENTIFIED BY 'pw'",
		"GRANT SELECT ON " + cfg.DBName + ".* TO '" + user + "'@'%'",
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		if admin, err := sql.Open("mysql", dsn); err == nil {
			admin.Exec("DROP USER IF EXISTS '" + user + "'@'%'") //nolint:errcheck // best effort
			admin.Close()
		}
	})
	cfg.User, cfg.Passwd = user, "pw"
	reader, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	return cfg, reader
}

// TestAReplicaAheadOfItsPrimaryIsNotReportedCaughtUp: a "replica" whose log
// is past its primary's (a replica of another server, or a primary restored
// from a backup while its replica kept the newer log) serves events the
// primary does not have, and appends on the primary will take positions it
// already shows with other events. The lag, clamped at 0, said it was caught
// up: /readyz 200 and a metric of 0. ReplicaLag now refuses it as
// unavailable, saying so, and the metric goes below 0. (A commit can show on
// a replica a moment before on its primary, so the primary's head is read
// again for a moment before the replica is called ahead.)
func TestAReplicaAheadOfItsPrimaryIsNotReportedCaughtUp(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := func(at int64) *Store {
		t.Helper()
		s := openMigrated(ctx, t, mysqltest.NewDatabase(t), Options{})
		if _, err := s.primary.ExecContext(ctx, "UPDATE log_head SET position = ? WHERE id = 1", at); err != nil {
			t.Fatal(err)
		}
		return s
	}
	primary, other := open(2), open(5)
	cfg := *other.cfg
	s := &Store{log: slog.New(slog.DiscardHandler), replica: &cfg, feed: other.feed, primary: primary.primary}
	// Its caller's time is a minute: an answer after half of it waited for
	// the caller's deadline, not the second's look again at the primary
	// (a bound no load reaches, unlike the 3 s it was).
	lagCtx, cancelLag := context.WithTimeout(context.Background(), time.Minute)
	defer cancelLag()
	start := time.Now()
	lag, err := s.ReplicaLag(lagCtx)
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(fmt.Sprint(err), "ahead") {
		t.Errorf("ReplicaLag of a replica at 5 whose primary is at 2: %+v, %v; want an unavailable error saying the replica is ahead", lag, err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("ReplicaLag of a replica ahead took %v; want its answer once the primary's head was read again for a second, not at its caller's deadline", took)
	}
	if m := s.lagForMetrics(); m != -3 {
		t.Errorf("the lag metric of a replica at 5 whose primary is at 2: %v, want -3", m)
	}
}

// TestAReplicaReplicatingThroughANamedConnectionIsSeenReplicating: a
// MariaDB replica may replicate through a named connection (CHANGE MASTER
// 'name' TO …, multi-source replication), which SHOW SLAVE STATUS does not
// show: it shows the default connection only. Such a replica was reported
// as replicating from nothing at start-up, and as not replicating in
// /readyz (seconds -1, replicating false) for ever. Its connections are
// read with SHOW ALL SLAVES STATUS now.
func TestAReplicaReplicatingThroughANamedConnectionIsSeenReplicating(t *testing.T) {
	t.Parallel()
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW")
	replica := mysqltest.NewServer(t, "--server-id=2")
	replica.Exec(t,
		fmt.Sprintf("CHANGE MASTER 'main' TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_USE_GTID=slave_pos", primary.Port),
		"START SLAVE 'main'")
	primary.CreateDatabase(t, "tributary")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var logged bytes.Buffer
	s := openMigrated(ctx, t, primary.DSN("tributary"), Options{Logger: slog.New(slog.NewJSONHandler(&logged, nil))})
	r := storeReadingFrom(t, s, replica)
	for deadline := time.Now().Add(20 * time.Second); ; { // until the replica has the schema and answers
		lag, err := r.ReplicaLag(ctx)
		if err == nil && lag.Positions == 0 && lag.Replicating && lag.Seconds >= 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ReplicaLag of a replica replicating through the named connection 'main': %+v, %v; want it replicating, 0 behind\n%s", lag, err, replica.ErrorLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
	logged.Reset()
	if err := r.checkReplica(ctx); err != nil {
		t.Fatalf("checkReplica: %v", err)
	}
	if strings.Contains(logged.String(), "reports no replication") {
		t.Errorf("checkReplica of a replica replicating through the named connection 'main' warned that it replicates from nothing:\n%s", logged.String())
	}
}

// TestAReplicaWhoseApplierStoppedOnAnErrorIsToldFromACleanStop: a
// replica's applier that stopped on an error (here a duplicate key: a row
// written on the replica that the primary then writes too) applies nothing
// more until someone repairs it, where one stopped cleanly (STOP SLAVE) may
// be started again in a moment. ReplicaLag told them apart in nothing
// (replicating false, seconds -1 both), so a read waiting for the replica
// waited its whole bound for a replica that could not come. It reports
// ApplierFailed for the first only, and no more once the replica is
// repaired and applies again.
func TestAReplicaWhoseApplierStoppedOnAnErrorIsToldFromACleanStop(t *testing.T) {
	t.Parallel()
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW")
	replica := mysqltest.NewServer(t, "--server-id=2", "--slave-parallel-threads=2")
	replica.Exec(t,
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_USE_GTID=slave_pos", primary.Port),
		"START SLAVE")
	primary.CreateDatabase(t, "tributary")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s := openMigrated(ctx, t, primary.DSN("tributary"), Options{})
	r := storeReadingFrom(t, s, replica)
	until := untilReplicaLag(ctx, t, r, replica)
	until("the replica replicating, 0 behind", func(l eventstore.ReplicaLag) bool { return l.Replicating && l.Positions == 0 })

	replica.Exec(t, "STOP SLAVE SQL_THREAD")
	if lag := until("the applier stopped", func(l eventstore.ReplicaLag) bool { return !l.Replicating }); lag.ApplierFailed {
		t.Errorf("ReplicaLag with the applier stopped cleanly (STOP SLAVE SQL_THREAD): %+v; want ApplierFailed false: it may be started again", lag)
	}
	replica.Exec(t, "START SLAVE SQL_THREAD")

	primary.Exec(t, "CREATE DATABASE other_app", "CREATE TABLE other_app.t (id INT PRIMARY KEY)")
	until("the replica replicating, 0 behind", func(l eventstore.ReplicaLag) bool { return l.Replicating && l.Positions == 0 })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var n int
		if err := r.feed.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'other_app'").Scan(&n); err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not get the table other_app.t within 20 s\n%s", replica.ErrorLog())
		}
	}
	replica.Exec(t, "INSERT INTO other_app.t VALUES (1)")
	primary.Exec(t, "INSERT INTO other_app.t VALUES (1)")
	until("the applier stopped on the duplicate key, ApplierFailed", func(l eventstore.ReplicaLag) bool { return !l.Replicating && l.ApplierFailed })
	// An instance starting beside such a replica says so: it said only
	// what commit order the replica keeps.
	var logged bytes.Buffer
	starting := &Store{log: slog.New(slog.NewJSONHandler(&logged, nil)), replica: r.replica, feed: r.feed, primary: s.primary}
	if err := starting.checkReplica(ctx); err != nil {
		t.Fatalf("checkReplica: %v", err)
	}
	if !strings.Contains(logged.String(), `"level":"WARN"`) || !strings.Contains(logged.String(), "stopped replicating on an error") || strings.Contains(logged.String(), "other_app") {
		t.Errorf("checkReplica beside a replica whose applier stopped on an error logged:\n%s\nwant a warning saying it stopped on an error, quoting nothing of the server's message", logged.String())
	}

	replica.Exec(t, "DELETE FROM other_app.t WHERE id = 1", "START SLAVE SQL_THREAD")
	until("the repaired replica replicating, ApplierFailed no more", func(l eventstore.ReplicaLag) bool { return l.Replicating && !l.ApplierFailed })
}

// TestTheStatusOfSeveralConnectionsIsWhatIsTrueOfAll: with several
// replication connections (MariaDB's named ones, MySQL's channels) the
// replica replicates only where every one does, its lag is the largest, and
// it has stopped for good only where every one has: the connection from
// this primary may be one that still applies. A connection has stopped
// for good where its applier (SQL thread) stopped on an error, or its
// receiver (IO thread) did (not running, with a Last_IO_Errno: the
// primary's binary log purged before the replica read it) once its applier
// has applied all it received; a receiver still connecting, which retries,
// has not. The receiver's stop was not seen at all: a read waited its whole
// bound for a replica that could not reach it.
func TestTheStatusOfSeveralConnectionsIsWhatIsTrueOfAll(t *testing.T) {
	t.Parallel()
	yes, no := sql.NullString{String: "Yes", Valid: true}, sql.NullString{String: "No", Valid: true}
	connecting := sql.NullString{String: "Connecting", Valid: true}
	sec := func(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }
	row := func(io, sqlT, s sql.NullString, errno ...string) map[string]sql.NullString {
		r := map[string]sql.NullString{"Slave_IO_Running": io, "Slave_SQL_Running": sqlT, "Seconds_Behind_Master": s, "Last_SQL_Errno": sec("0"), "Last_IO_Errno": sec("0"),
			"Master_Log_File": sec("binlog.000002"), "Read_Master_Log_Pos": sec("1234"), "Relay_Master_Log_File": sec("binlog.000002"), "Exec_Master_Log_Pos": sec("1234")}
		for _, e := range errno {
			r["Last_SQL_Errno"] = sec(e)
		}
		return r
	}
	// ioRow is a connection whose receiver shows the error errno; behind,
	// its applier has not applied all it received.
	ioRow := func(io sql.NullString, errno string, behind bool) map[string]sql.NullString {
		r := row(io, yes, sql.NullString{})
		r["Last_IO_Errno"] = sec(errno)
		if behind {
			r["Exec_Master_Log_Pos"] = sec("999")
		}
		return r
	}
	for _, tc := range []struct {
		name        string
		rows        []map[string]sql.NullString
		replicating bool
		seconds     sql.NullString
		failed      bool // every connection stopped for good
		ioErrno     int
	}{
		{"both run", []map[string]sql.NullString{row(yes, yes, sec("3")), row(yes, yes, sec("12"))}, true, sec("12"), false, 0},
		{"one's IO thread stopped", []map[string]sql.NullString{row(yes, yes, sec("0")), row(no, yes, sec("1"))}, false, sec("1"), false, 0},
		{"one's applier stopped", []map[string]sql.NullString{row(yes, no, sql.NullString{}), row(yes, yes, sec("0"))}, false, sql.NullString{}, false, 0},
		// The one that still applies may be the primary's.
		{"one's applier failed", []map[string]sql.NullString{row(yes, no, sql.NullString{}, "1062"), row(yes, yes, sec("0"))}, false, sql.NullString{}, false, 0},
		{"both appliers failed", []map[string]sql.NullString{row(yes, no, sql.NullString{}, "1062"), row(yes, no, sql.NullString{}, "1146")}, false, sql.NullString{}, true, 0},
		// An applier that runs may show the error it retries (a lock wait
		// timeout): it has not stopped. A check of the error alone, not of
		// the applier running, would call it failed, and
		// TestAReplicaWhoseApplierStoppedOnAnErrorIsToldFromACleanStop, on a
		// real replica, passes with such a check: its applier clears the
		// error as it starts again.
		{"its applier running, showing an error it retries", []map[string]sql.NullString{row(yes, yes, sec("4"), "1205")}, true, sec("4"), false, 0},
		{"one, its receiver failed, all it got applied", []map[string]sql.NullString{ioRow(no, "1236", false)}, false, sql.NullString{}, true, 1236},
		{"one, its receiver failed, not all it got applied yet", []map[string]sql.NullString{ioRow(no, "1236", true)}, false, sql.NullString{}, false, 0},
		{"one, its receiver reconnecting after an error", []map[string]sql.NullString{ioRow(connecting, "1045", false)}, false, sql.NullString{}, false, 0},
		{"one's receiver failed, the other applies", []map[string]sql.NullString{ioRow(no, "1236", false), row(yes, yes, sec("0"))}, false, sql.NullString{}, false, 0},
		{"one's receiver failed, the other's applier", []map[string]sql.NullString{row(yes, no, sql.NullString{}, "1062"), ioRow(no, "1236", false)}, false, sql.NullString{}, true, 1236},
	} {
		m := mergeStatus(tc.rows)
		if got := m["Slave_IO_Running"].String == "Yes" && m["Slave_SQL_Running"].String == "Yes"; got != tc.replicating || m["Seconds_Behind_Master"] != tc.seconds {
			t.Errorf("%s: replicating %v, seconds %+v; want %v, %+v", tc.name, got, m["Seconds_Behind_Master"], tc.replicating, tc.seconds)
		}
		if failed, ioErrno := stoppedForGood(tc.rows); failed != tc.failed || ioErrno != tc.ioErrno {
			t.Errorf("%s: stopped for good %v, IO thread's error %d; want %v, %d", tc.name, failed, ioErrno, tc.failed, tc.ioErrno)
		}
		// MySQL 8.0.22+ shows every channel in SHOW REPLICA STATUS, under
		// the names Replica_… and …_Source.
		var mysqlRows []map[string]sql.NullString
		for _, r := range tc.rows {
			mysqlRows = append(mysqlRows, map[string]sql.NullString{"Replica_IO_Running": r["Slave_IO_Running"],
				"Replica_SQL_Running": r["Slave_SQL_Running"], "Seconds_Behind_Source": r["Seconds_Behind_Master"], "Last_SQL_Errno": r["Last_SQL_Errno"],
				"Last_IO_Errno": r["Last_IO_Errno"], "Source_Log_File": r["Master_Log_File"], "Read_Source_Log_Pos": r["Read_Master_Log_Pos"],
				"Relay_Source_Log_File": r["Relay_Master_Log_File"], "Exec_Source_Log_Pos": r["Exec_Master_Log_Pos"]})
		}
		m = mergeStatus(mysqlRows)
		if got := m["Replica_IO_Running"].String == "Yes" && m["Replica_SQL_Running"].String == "Yes"; got != tc.replicating || m["Seconds_Behind_Source"] != tc.seconds {
			t.Errorf("%s, MySQL's names: replicating %v, seconds %+v; want %v, %+v", tc.name, got, m["Seconds_Behind_Source"], tc.replicating, tc.seconds)
		}
		if failed, ioErrno := stoppedForGood(mysqlRows); failed != tc.failed || ioErrno != tc.ioErrno {
			t.Errorf("%s, MySQL's names: stopped for good %v, IO thread's error %d; want %v, %d", tc.name, failed, ioErrno, tc.failed, tc.ioErrno)
		}
	}
}

// TestAReplicaWhoseReceiverStoppedOnAnErrorIsFailedNotLagging: a replica
// whose IO thread (the receiver of the primary's binary log) stopped on an
// error, here because the primary purged the log the replica had yet to
// read (1236), receives nothing more until someone repairs it; ReplicaLag
// called it neither failed nor anything but a replica not replicating, so a
// read waiting for it waited its whole bound. It reports ApplierFailed and
// the IO thread's error number now. A receiver that retries, as with a
// wrong password (MariaDB shows Connecting, 1045, and tries again every
// MASTER_CONNECT_RETRY seconds), is a lagging replica still.
func TestAReplicaWhoseReceiverStoppedOnAnErrorIsFailedNotLagging(t *testing.T) {
	t.Parallel()
	// Grant tables on, for a replication user with a password; made before
	// the binary log is reset, so that the replica, which runs without
	// them, does not apply it.
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW", "--skip-grant-tables=0")
	primary.Exec(t, "CREATE USER 'repl'@'%' IDENTIFIED BY 'pw'", "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'", "RESET MASTER")
	replica := mysqltest.NewServer(t, "--server-id=2")
	replica.Exec(t,
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='repl', MASTER_PASSWORD='pw', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos", primary.Port),
		"START SLAVE")
	primary.CreateDatabase(t, "tributary")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s := openMigrated(ctx, t, primary.DSN("tributary"), Options{})
	r := storeReadingFrom(t, s, replica)
	until := untilReplicaLag(ctx, t, r, replica)
	appendOne := func() {
		t.Helper()
		if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "order", Expected: eventstore.Any,
			Events: []eventstore.NewEvent{{Type: "A", Data: []byte(`1`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	until("the replica replicating, 0 behind", func(l eventstore.ReplicaLag) bool { return l.Replicating && l.Positions == 0 })

	// A wrong password: the receiver retries, the replica lags.
	replica.Exec(t, "STOP SLAVE", "CHANGE MASTER TO MASTER_PASSWORD='wrong'", "START SLAVE")
	appendOne()
	until("the receiver failing to connect", func(l eventstore.ReplicaLag) bool { return !l.Replicating && l.Positions == 1 })
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if lag, err := r.ReplicaLag(ctx); err != nil || lag.ApplierFailed || lag.IOErrno != 0 {
			t.Fatalf("ReplicaLag with the receiver retrying a wrong password: %+v, %v; want a lagging replica, not failed: it retries\n%s", lag, err, replica.ErrorLog())
		}
	}
	replica.Exec(t, "STOP SLAVE", "CHANGE MASTER TO MASTER_PASSWORD='pw'", "START SLAVE")
	until("the replica replicating again, 0 behind", func(l eventstore.ReplicaLag) bool { return l.Replicating && l.Positions == 0 && !l.ApplierFailed })

	// The primary purges the log the replica has yet to read: the receiver
	// stops on 1236 and nothing more comes.
	replica.Exec(t, "STOP SLAVE")
	appendOne()
	primary.PurgeBinaryLogs(t)
	replica.Exec(t, "START SLAVE")
	lag := until("the receiver stopped on 1236, ApplierFailed", func(l eventstore.ReplicaLag) bool { return l.ApplierFailed })
	if lag.IOErrno != 1236 || lag.Replicating || lag.Positions != 1 {
		t.Errorf("ReplicaLag with the receiver stopped on the purged binary log: %+v; want IOErrno 1236, not replicating, 1 behind", lag)
	}
}

// TestAReplicaWithoutTheSchemaYetIsUnavailableNotAnError: a replica that
// has not applied the primary's migrations yet (still copying the primary,
// its applier stopped, a rolling upgrade's new migration not there yet)
// lacks the tables the reads need. Reads, the lag and so /readyz failed with
// the server's "table doesn't exist", which the HTTP edge answers 500
// "internal error"; it is the replica being behind, a 503 with Retry-After.
func TestAReplicaWithoutTheSchemaYetIsUnavailableNotAnError(t *testing.T) {
	t.Parallel()
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW")
	primary.CreateDatabase(t, "tributary")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The "replica": a database with nothing in it yet.
	s := openMigrated(ctx, t, primary.DSN("tributary"), Options{ReadDSN: mysqltest.NewDatabase(t)})
	_, readErr := s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: 10})
	_, headErr := s.Head(ctx)
	_, lagErr := s.ReplicaLag(ctx)
	for what, err := range map[string]error{"ReadAll": readErr, "Head": headErr, "ReplicaLag": lagErr} {
		if !errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("%s on a replica without the tables yet: %v; want an error wrapping ErrUnavailable", what, err)
		}
	}
}

// TestAReplicaOfAnotherLogIsNotReportedReplicating: a "replica" whose log is
// not the primary's — promoted and written to, replicating another server,
// or a primary restored from a backup whose later appends went elsewhere —
// holds other events at the positions it shares with the primary, behind
// it or level. Its lag said only how far behind it was: /readyz 200, while
// reads and subscribers got events the primary never had. ReplicaLag now
// compares the event at the replica's head with the primary's at that
// position, and refuses a replica where they differ as unavailable.
func TestAReplicaOfAnotherLogIsNotReportedReplicating(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := func(events int) *Store {
		t.Helper()
		s := openMigrated(ctx, t, mysqltest.NewDatabase(t), Options{})
		for p := 1; p <= events; p++ { // each its own random ids
			if _, err := s.primary.ExecContext(ctx, "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at) "+
				"VALUES (?, UNHEX(REPLACE(UUID(), '-', '')), UNHEX(REPLACE(UUID(), '-', '')), 1, 'order', 'Placed', '{}', UTC_TIMESTAMP(6))", p); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.primary.ExecContext(ctx, "UPDATE log_head SET position = ? WHERE id = 1", events); err != nil {
			t.Fatal(err)
		}
		return s
	}
	primary := open(3)
	for _, events := range []int{1, 3} { // behind, and level
		other := open(events)
		cfg := *other.cfg
		s := &Store{log: slog.New(slog.DiscardHandler), replica: &cfg, feed: other.feed, primary: primary.primary}
		lag, err := s.ReplicaLag(ctx)
		if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(fmt.Sprint(err), "not the primary's") {
			t.Errorf("ReplicaLag of a replica at %d with other events than its primary's (at 3): %+v, %v; want an unavailable error saying its log is not the primary's",
				events, lag, err)
		}
	}
	// A true copy is a replica.
	copyOf := open(0)
	if _, err := copyOf.primary.ExecContext(ctx, "INSERT INTO events SELECT * FROM "+primary.cfg.DBName+".events WHERE position <= 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := copyOf.primary.ExecContext(ctx, "UPDATE log_head SET position = 2 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	cfg := *copyOf.cfg
	s := &Store{log: slog.New(slog.DiscardHandler), replica: &cfg, feed: copyOf.feed, primary: primary.primary}
	if lag, err := s.ReplicaLag(ctx); err != nil || lag.Positions != 1 {
		t.Errorf("ReplicaLag of a true copy of the primary's log, one event behind: %+v, %v; want 1 position behind", lag, err)
	}
}

// TestAPrimaryMissingATableIsNotBlamedOnTheReplica: with a read replica, the
// translation that makes a missing table the replica's passing trouble (a
// 503 saying it has not applied the primary's migrations yet) was the whole
// store's, the writer's on the primary included: an append meeting a table
// dropped from the primary was a 503 blaming the replica, where it is the
// primary's schema gone: a 503 that names the table missing and what to do
// (eventstore.MissingError; a 500 until the nineteenth session's review).
// From a final read of the session.
func TestAPrimaryMissingATableIsNotBlamedOnTheReplica(t *testing.T) {
	t.Parallel()
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW")
	primary.CreateDatabase(t, "tributary")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := openMigrated(ctx, t, primary.DSN("tributary"), Options{ReadDSN: mysqltest.NewDatabase(t)})
	db, err := sql.Open("mysql", primary.DSN("tributary"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "RENAME TABLE events TO events_gone"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Expected: eventstore.Any,
		Events: []eventstore.NewEvent{{Type: "A", Data: []byte(`1`)}}})
	var missing *eventstore.MissingError
	if !errors.As(err, &missing) || missing.Table != "events" || strings.Contains(err.Error(), "replica") {
		t.Errorf("an append on a primary whose events table is gone: %v; want the primary's table events missing, not the replica blamed", err)
	}
}

// TestPrimaryStreamVersionIsThePrimarysOwn: a resume past a stream's
// version on the primary is refused at once behind a read replica, however
// far the replica lags; the version is read on the primary, 0 for a stream
// it does not have.
func TestPrimaryStreamVersionIsThePrimarysOwn(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	primary := openMigrated(ctx, t, mysqltest.NewDatabase(t), Options{})
	empty := openMigrated(ctx, t, mysqltest.NewDatabase(t), Options{})
	id := uuid.New()
	if _, err := primary.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: "order", Expected: eventstore.Any,
		Events: []eventstore.NewEvent{{Type: "A", Data: []byte(`1`)}, {Type: "B", Data: []byte(`2`)}}}); err != nil {
		t.Fatal(err)
	}
	cfg := *empty.cfg
	s := &Store{log: slog.New(slog.DiscardHandler), replica: &cfg, feed: empty.feed, primary: primary.primary}
	for _, c := range []struct {
		id   uuid.UUID
		want int64
	}{{id, 2}, {uuid.New(), 0}} {
		if v, err := s.PrimaryStreamVersion(ctx, c.id); err != nil || v != c.want {
			t.Errorf("PrimaryStreamVersion of a stream at version %d on the primary, none on the replica: %d, %v; want %d", c.want, v, err, c.want)
		}
	}
}

// openMigrated opens a store on dsn with opts, closed with the test, and
// brings its schema up to date.
// storeReadingFrom is s reading from replica, its database tributary:
// what Open makes of a primary's DSN and a read replica's.
func storeReadingFrom(t *testing.T, s *Store, replica *mysqltest.Server) *Store {
	t.Helper()
	cfg, err := mysql.ParseDSN(replica.DSN("tributary"))
	if err != nil {
		t.Fatal(err)
	}
	feed, err := sql.Open("mysql", replica.DSN("tributary"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { feed.Close() })
	return &Store{log: s.log, replica: cfg, feed: feed, primary: s.primary}
}

// untilReplicaLag returns until, which asks r.ReplicaLag until ok holds of
// its answer and returns it; after 20 s it fails the test, saying what
// was waited for and quoting replica's error log.
func untilReplicaLag(ctx context.Context, t *testing.T, r *Store, replica *mysqltest.Server) func(what string, ok func(eventstore.ReplicaLag) bool) eventstore.ReplicaLag {
	return func(what string, ok func(eventstore.ReplicaLag) bool) eventstore.ReplicaLag {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			lag, err := r.ReplicaLag(ctx)
			if err == nil && ok(lag) {
				return lag
			}
			if time.Now().After(deadline) {
				t.Fatalf("ReplicaLag: %+v, %v; want %s within 20 s\n%s", lag, err, what, replica.ErrorLog())
			}
		}
	}
}

func openMigrated(ctx context.Context, t *testing.T, dsn string, opts Options) *Store {
	t.Helper()
	s, err := Open(ctx, dsn, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// TestAnIndexMissingOnTheReplicaOnlyIsTheReplicasNotAnAlterToRun: a
// filtered read on a read replica lacking the index it forces (a rolling
// upgrade's migration not applied there yet, a replica rebuilt from a dump
// without secondary keys) was said as the primary's missing index, with an
// ALTER TABLE … ADD KEY to run (hostile reviewer 3's F8): run on the
// replica, the primary's own ALTER, replicated, then fails and stops
// replication. It must name the read replica (TRIBUTARY_MYSQL_READ_DSN's
// server) and say to add it on the primary, or rebuild the replica, with
// no ALTER TABLE in it, and stay a 503 (ErrUnavailable).
func TestAnIndexMissingOnTheReplicaOnlyIsTheReplicasNotAnAlterToRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	replicaDSN := mysqltest.NewDatabase(t)
	replica := openMigrated(ctx, t, replicaDSN, Options{})
	if _, err := replica.primary.ExecContext(ctx, "ALTER TABLE events DROP KEY events_event_type_position"); err != nil {
		t.Fatal(err)
	}
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW")
	primary.CreateDatabase(t, "tributary")
	s := openMigrated(ctx, t, primary.DSN("tributary"), Options{ReadDSN: replicaDSN})
	page, err := s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: 10, EventTypes: []string{"Placed", "Shipped"}})
	if err == nil {
		for _, e := range page.Events {
			if e != nil {
				err = e
				break
			}
		}
	}
	msg := fmt.Sprint(err)
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(msg, "read replica") || !strings.Contains(msg, "TRIBUTARY_MYSQL_READ_DSN") ||
		!strings.Contains(msg, "events_event_type_position") || !strings.Contains(msg, "on the primary") || strings.Contains(msg, "ALTER TABLE") {
		t.Errorf("a read filtered on two event types, on a replica without the index it forces: %v; "+
			"want an unavailable error naming the read replica (TRIBUTARY_MYSQL_READ_DSN) and the index, saying to add it on the primary, no ALTER TABLE to run", err)
	}
}
