package mysqlstore_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAReplicaAddressThatClosesEveryConnectionIsUnreachableAndSaidOnce: the
// read replica behind a proxy with no server behind it (each connection
// accepted and closed before the greeting). The primary's pools said so
// (TestAnAddressThatClosesEveryConnectionIsUnreachableAndSaidOnce), but the
// replica's connector was the driver's own: the driver logged
// "packets.go:58 unexpected EOF" per attempt and reads said "invalid
// connection". The replica's reads are a network error saying what the
// address did now, and the driver's line for it is DEBUG. Not parallel: it
// takes the driver's log lines, which are the process's.
func TestAReplicaAddressThatClosesEveryConnectionIsUnreachableAndSaidOnce(t *testing.T) {
	out, logger := takeDriverLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A private server is the primary (its binary log on, which a replica
	// needs); the "replica", a migrated database on the shared server,
	// reached through a proxy.
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW").CreateDatabase(t, "tributary")
	copyDSN := mysqltest.NewDatabase(t)
	copied := openLogged(t, copyDSN, slog.New(slog.DiscardHandler))
	copied.Close()
	cfg, err := mysql.ParseDSN(copyDSN)
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.Start(t, cfg.Addr)
	cfg.Addr = proxy.Addr()
	s, err := mysqlstore.Open(ctx, primary, mysqlstore.Options{ReadDSN: cfg.FormatDSN(), Logger: logger})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{}); err != nil {
		t.Fatalf("a read from the replica through the proxy: %v", err)
	}

	proxy.Hollow()
	readsSayNoGreeting(ctx, t, s, "the replica's")
	driverSaidOnlyDebug(t, out, "a replica's connection")
	proxy.Fill()
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{}); err != nil {
		t.Errorf("a read once the replica's proxy forwards again: %v", err)
	}
}
