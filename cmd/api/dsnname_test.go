package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestADSNThatCannotBeUsedIsRefusedNamingItsVariable: a DSN the driver
// cannot parse (no slash, a timeout that is no duration), or that names no
// database, was refused as "parse MySQL DSN: invalid DSN: missing the
// slash…", which names no variable, where every other setting's error does:
// with both DSNs set, an operator could not tell which was wrong. The error
// names TRIBUTARY_MYSQL_DSN, or TRIBUTARY_MYSQL_READ_DSN, and never
// quotes the password.
func TestADSNThatCannotBeUsedIsRefusedNamingItsVariable(t *testing.T) {
	t.Parallel()
	good := mysqltest.NewDatabase(t)
	const password = "s3cretPW"
	bad := []struct{ name, dsn string }{
		{"no slash", "root:" + password + "@tcp(127.0.0.1:3306)"},
		{"a timeout that is no duration", "root:" + password + "@tcp(127.0.0.1:3306)/db?timeout=abc"},
		{"no database", "root:" + password + "@tcp(127.0.0.1:3306)/"},
		{"a list of servers with an empty one", "root:" + password + "@tcp(127.0.0.1:3306,)/db"},
	}
	for _, c := range bad {
		for _, replica := range []bool{false, true} {
			name, want, other := c.name, config.Var("MySQLDSN"), config.Var("MySQLReadDSN")
			cfg := config.Defaults()
			cfg.StartupTimeout = 10 * time.Second
			cfg.MySQLDSN = c.dsn
			if replica {
				name, want, other = "read "+name, other, want
				cfg.MySQLDSN, cfg.MySQLReadDSN = good, c.dsn
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				store, err := openMySQL(context.Background(), cfg, slog.New(slog.DiscardHandler), metrics.New("test"), false)
				if err == nil {
					store.Close()
					t.Fatalf("%s: expected it refused, naming %s; it opened", c.dsn, want)
				}
				msg := err.Error()
				if !strings.Contains(msg, want) || strings.Contains(msg, other) {
					t.Errorf("a DSN with %s in %s: expected an error naming %s (and not %s), got %q", c.name, want, want, other, msg)
				}
				if strings.Contains(msg, password) {
					t.Errorf("a DSN with %s: the error quotes the password: %q", c.name, msg)
				}
			})
		}
	}
}
