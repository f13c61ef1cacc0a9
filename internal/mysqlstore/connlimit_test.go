package mysqlstore_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAStartSaysWhenTheServerCannotHoldTheInstancesSessions: one instance
// may hold TRIBUTARY_MYSQL_MAX_CONNS sessions for reads, 2 for the writer,
// 3 for the live feed and /readyz and 2 for the lock holder's search. On a
// server whose max_connections (or the user's max_user_connections) is
// below that, the service started, /readyz said 200, and under load reads
// failed 503 "Too many connections", with nothing said at start. It warns
// once as it starts, naming the limit and the sessions; a limit that holds
// them is not warned of. On a private server (a global setting).
func TestAStartSaysWhenTheServerCannotHoldTheInstancesSessions(t *testing.T) {
	t.Parallel()
	// 10, MariaDB's least (it takes 4 for 10).
	server := mysqltest.NewServer(t, "--max-connections=10", "--skip-grant-tables=0")
	root := server.CreateDatabase(t, "crowded")
	open := func(dsn string, maxConns int) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var logs testlog.Buffer
		s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{MaxConns: maxConns, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		s.Close()
		return logs.String()
	}
	want := func(logs string, words ...string) {
		t.Helper()
		var warned []string
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, "level=WARN") && strings.Contains(l, "max_") {
				warned = append(warned, l)
			}
		}
		if len(warned) != 1 {
			t.Errorf("the start logged %d warnings of a connection limit; want one, naming %q:\n%s", len(warned), words, logs)
			return
		}
		for _, w := range words {
			if !strings.Contains(warned[0], w) {
				t.Errorf("the warning of a connection limit does not say %q:\n%s", w, warned[0])
			}
		}
	}
	// 16 reads + 2 + 3 + 2 + 2 = 25 sessions, on a server of 10.
	want(open(root, 16), "max_connections", "limit=10", "sessions=25", "TRIBUTARY_MYSQL_MAX_CONNS")

	// The account's own limit, lower than the server's.
	server.Exec(t, "CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pw' WITH MAX_USER_CONNECTIONS 3", "GRANT ALL ON crowded.* TO 'app'@'127.0.0.1'")
	app := strings.Replace(root, "root@", "app:app-pw@", 1)
	want(open(app, 1), "max_user_connections", "limit=3", "sessions=10")
}

// TestAStartOnAServerThatHoldsTheInstancesSessionsWarnsOfNoLimit: the
// shared server's max_connections (151 by default) holds one instance's
// sessions: no warning of a connection limit.
func TestAStartOnAServerThatHoldsTheInstancesSessionsWarnsOfNoLimit(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var logs testlog.Buffer
	s, err := mysqlstore.Open(ctx, mysqltest.NewDatabase(t), mysqlstore.Options{MaxConns: 4, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	s.Close()
	if strings.Contains(logs.String(), "max_connections") || strings.Contains(logs.String(), "max_user_connections") {
		t.Errorf("a start with 11 sessions on a server that holds them warned of a connection limit:\n%s", logs.String())
	}
}

// TestAStartCountsTheSessionsOfEachServerWithAReadReplica: with a read
// replica, the reads' pool and the live feed's are on the replica, and the
// writer's, the durability checks' and the lock holder search's on the
// primary, with the stall watch's (9): a primary of max_connections 12 holds them (not the 25 of
// all the pools), a replica of 10 does not hold its 21 (the reads' 16, the
// live feed's 3, and its own stall watch's 2: its ping's and a second
// opinion's, which were left out). On two private servers (the primary's binary log
// on, which a replica needs; the replica replicates nothing, which Open
// only warns of).
func TestAStartCountsTheSessionsOfEachServerWithAReadReplica(t *testing.T) {
	t.Parallel()
	primary := mysqltest.NewServer(t, "--max-connections=12", "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW").
		CreateDatabase(t, "tributary")
	replica := mysqltest.NewServer(t, "--max-connections=10", "--server-id=2").CreateDatabase(t, "tributary")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var logs testlog.Buffer
	s, err := mysqlstore.Open(ctx, primary, mysqlstore.Options{MaxConns: 16, ReadDSN: replica, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	s.Close()
	var warned []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "max_connections") {
			warned = append(warned, l)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "server="+s.ReadAddr()) || !strings.Contains(warned[0], "sessions=21") ||
		!strings.Contains(warned[0], "limit=10") {
		t.Errorf("the start logged %d warnings of max_connections; want one, of the replica (server=%s), with limit=10 and sessions=21:\n%s",
			len(warned), s.ReadAddr(), logs.String())
	}
}
