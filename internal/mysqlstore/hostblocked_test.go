package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/tcptest"
)

// TestAHostBlockedByTheServerIsRefusedNotAPassingOutage: a server blocks a
// host after max_connect_errors connections from it failed their handshake
// (a load balancer's TCP check, a port scanner), and refuses every new
// session from it (1129) until an operator unblocks it (FLUSH HOSTS): no
// wait mends it. It was counted as unavailable, an outage like any other;
// it is a refusal (eventstore.ErrRefused, still a 503) while the store
// serves, with words saying how to unblock it, and at start-up an error
// at once, not an outage retried for the start-up timeout. On a private
// server that resolves hosts (the server blocks none otherwise), the
// store's connections coming from 127.0.0.2 (the server never blocks
// 127.0.0.1).
func TestAHostBlockedByTheServerIsRefusedNotAPassingOutage(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t, "--skip-name-resolve=0", "--max-connect-errors=2")
	cfg, err := mysql.ParseDSN(server.CreateDatabase(t, "blocked"))
	if err != nil {
		t.Fatal(err)
	}
	target := cfg.Addr
	cfg.Addr = fromOtherHost(t, target)
	s, _ := openCounted(t, cfg.FormatDSN())
	appendVersions(ctx, t, s, uuid.New(), 1)

	blockOtherHost(ctx, t, target)
	killOtherSessions(ctx, t, otherProcessDB(t, server.DSN("")))
	_, err = s.ReadAll(ctx, eventstore.ReadAllOptions{})
	if !errors.Is(err, eventstore.ErrRefused) || !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "FLUSH HOSTS") {
		t.Errorf("a read needing a new session, the server blocking the store's host: %v; want an error wrapping ErrRefused and ErrUnavailable, saying to FLUSH HOSTS", err)
	}
	openCtx, cancelOpen := context.WithTimeout(ctx, 30*time.Second)
	defer cancelOpen()
	again, err := mysqlstore.Open(openCtx, cfg.FormatDSN(), mysqlstore.Options{})
	if err == nil {
		again.Close()
		t.Fatal("Open, the server blocking the store's host: it opened; want a refusal")
	}
	if errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "FLUSH HOSTS") {
		t.Errorf("Open, the server blocking the store's host: %v; want an error at once (not ErrUnavailable, which start-up retries), saying to FLUSH HOSTS", err)
	}
}

// fromOtherHost forwards connections to target from 127.0.0.2, which a
// server takes for another host than 127.0.0.1, and returns the address
// it listens on.
func fromOtherHost(t *testing.T, target string) string {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	return tcptest.Serve(t, func(c net.Conn) {
		up, err := dialer.Dial("tcp", target)
		if err != nil {
			return
		}
		defer up.Close()
		go func() {
			io.Copy(up, c) //nolint:errcheck // either side closing ends the pair
			up.Close()
		}()
		io.Copy(c, up) //nolint:errcheck // either side closing ends the pair
	})
}

// blockOtherHost has the server at target block 127.0.0.2: connections
// from it that fail their handshake, until the server's greeting is its
// refusal of the host (1129).
func blockOtherHost(ctx context.Context, t *testing.T, target string) {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	for try := 1; ; try++ {
		c, err := dialer.DialContext(ctx, "tcp", target)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a read past it fails the test
		greeting := make([]byte, 512)
		n, err := c.Read(greeting)
		if err != nil {
			t.Fatalf("read the server's greeting: %v", err)
		}
		// An error packet: length (3 bytes), sequence, 0xff, its number.
		if n >= 7 && greeting[4] == 0xff && int(greeting[5])|int(greeting[6])<<8 == 1129 {
			c.Close()
			return
		}
		c.Write([]byte{1, 0, 0, 1, 0xff}) //nolint:errcheck // a handshake the server refuses: "Bad handshake"
		io.Copy(io.Discard, c)            //nolint:errcheck // until the server closes it
		c.Close()
		if try == 10 {
			t.Fatalf("the server did not block 127.0.0.2 after %d failed handshakes; its greeting: %q", try, greeting[:n])
		}
	}
}

// killOtherSessions kills every session of db's server but the one that
// kills them.
func killOtherSessions(ctx context.Context, t *testing.T, db *sql.DB) {
	t.Helper()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND command <> 'Daemon'")
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	for _, id := range ids {
		conn.ExecContext(ctx, fmt.Sprintf("KILL %d", id)) //nolint:errcheck // one may have closed, or be the server's own
	}
}
