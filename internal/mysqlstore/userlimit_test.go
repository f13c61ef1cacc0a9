package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAUserAtItsConnectionLimitIsUnavailable: a DBA may bound how many
// connections the service's user holds at once, on the server
// (max_user_connections: error 1203, a 503) or on the user's account
// (GRANT … WITH MAX_USER_CONNECTIONS, or per hour: error 1226). At the
// account's limit, a request that needed a new connection failed with
// 1226 passed on as it was: a 500 "internal error", where the server-wide
// limit gives a 503 with Retry-After. On a private server, with its grant
// tables.
func TestAUserAtItsConnectionLimitIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t, "--skip-grant-tables=0")
	root := server.CreateDatabase(t, "limited")
	server.Exec(t, "CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pw' WITH MAX_USER_CONNECTIONS 12", "GRANT ALL ON limited.* TO 'app'@'127.0.0.1'")
	dsn := strings.Replace(root, "root@", "app:app-pw@", 1)
	s, _ := openCounted(t, dsn)
	appendVersions(ctx, t, s, uuid.New(), 1)
	// Another process of the same user takes every connection left.
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
	for {
		c, err := other.Conn(ctx)
		if err != nil {
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != 1226 {
				t.Fatalf("taking the user's connections: %v; want error 1226 at its limit", err)
			}
			break
		}
		held = append(held, c)
		if len(held) > 12 {
			t.Fatal("the user's connection limit did not hold")
		}
	}
	_, err = s.ReadAll(ctx, eventstore.ReadAllOptions{})
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("a read that needed a new connection, the user at its connection limit: %v; want an error wrapping ErrUnavailable", err)
	}
}
