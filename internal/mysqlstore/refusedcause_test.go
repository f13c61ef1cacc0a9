package mysqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestARealRefusalIsMarkedRefused: the database refusing the store's user
// or its writes while the store runs (a privilege revoked, the account
// locked, its password expired or changed, the server read-only) is
// eventstore.ErrRefused, and still ErrUnavailable, a 503: the metric of
// 503s for the database counts it as refused, not as any other outage.
// On a private server with grant tables, for a user that read_only binds.
func TestARealRefusalIsMarkedRefused(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	server, root, dsn := appUser(t, "refusal", "GRANT BINLOG ADMIN ON *.* TO 'app'@'127.0.0.1'")
	s, _ := openCounted(t, dsn)
	setting, _ := openCounted(t, dsn+"?binlog_format=ROW") // each new session sets what needs BINLOG ADMIN
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)
	rootDB := otherProcessDB(t, root)
	for _, c := range []struct{ what, do, undo string }{
		{"its INSERT on events revoked", "REVOKE INSERT ON refusal.* FROM 'app'@'127.0.0.1'", "GRANT ALL ON refusal.* TO 'app'@'127.0.0.1'"},
		{"the privilege its sessions' settings need revoked", "REVOKE BINLOG ADMIN ON *.* FROM 'app'@'127.0.0.1'", "GRANT BINLOG ADMIN ON *.* TO 'app'@'127.0.0.1'"},
		{"its account locked", "ALTER USER 'app'@'127.0.0.1' ACCOUNT LOCK", "ALTER USER 'app'@'127.0.0.1' ACCOUNT UNLOCK"},
		{"its password expired", "ALTER USER 'app'@'127.0.0.1' PASSWORD EXPIRE", "ALTER USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pw'"},
		{"its password changed", "ALTER USER 'app'@'127.0.0.1' IDENTIFIED BY 'another-pw'", "ALTER USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pw'"},
		{"the server read-only", "SET GLOBAL read_only = 1", "SET GLOBAL read_only = 0"},
	} {
		server.Exec(t, c.do)
		killSessionsOf(ctx, t, rootDB, "app") // a database's privileges, and the account's state, bind new sessions
		var err error
		if c.what == "the privilege its sessions' settings need revoked" {
			_, err = appendOne(ctx, setting, uuid.New(), eventstore.NoStream)
		} else {
			_, err = appendOne(ctx, s, stream, eventstore.Exactly(1))
		}
		if !errors.Is(err, eventstore.ErrRefused) || !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrOutcomeUnknown) {
			t.Errorf("an append, %s: %v; want an error wrapping ErrRefused and ErrUnavailable, not of unknown outcome", c.what, err)
		}
		server.Exec(t, c.undo)
	}
	killSessionsOf(ctx, t, rootDB, "app")
	if _, err := appendOne(ctx, s, stream, eventstore.Exactly(1)); err != nil {
		t.Errorf("an append once the user and the server take it again: %v", err)
	}
}
