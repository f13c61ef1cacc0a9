package mysqlstore_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAReadReplicaThatIsThePrimaryUnderAnotherNameIsRefused: a read DSN
// naming the primary's own server and database under another address
// (localhost for 127.0.0.1, the same port) was accepted, with a warning
// that the replica reports no replication and sees appends only if
// something else copies them: it sees all of them, it is the primary, and
// /readyz, the lag and the replica's settings said what is not so. Open now
// refuses it, at once (no retry helps), saying the read DSN points at the
// primary itself, and quoting no password.
func TestAReadReplicaThatIsThePrimaryUnderAnotherNameIsRefused(t *testing.T) {
	t.Parallel()
	// A primary a replica can follow: its binary log on.
	server := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW")
	dsn := server.CreateDatabase(t, "tributary")
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	alias := cfg.Clone()
	alias.Addr = "localhost:" + port
	if cfg.Addr == alias.Addr {
		alias.Addr = "127.0.0.1:" + port
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{ReadDSN: alias.FormatDSN()})
	if err == nil {
		s.Close()
		t.Fatalf("Open with the primary (%s) as its read replica under another name (%s): expected a refusal, it opened", cfg.Addr, alias.Addr)
	}
	msg := err.Error()
	if errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(msg, "primary itself") || !strings.Contains(msg, "TRIBUTARY_MYSQL_READ_DSN") {
		t.Errorf("Open with the primary as its read replica: expected an error that is not ErrUnavailable, says the read DSN (TRIBUTARY_MYSQL_READ_DSN) points at the primary itself; got %v", err)
	}
	if cfg.Passwd != "" && strings.Contains(msg, cfg.Passwd) {
		t.Errorf("the refusal quotes the password: %v", err)
	}
}
