package mysqlstore

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

func TestADSNWithAListOfAddressesNamesEveryNodeWithItsPort(t *testing.T) {
	t.Parallel()
	cases := []struct {
		dsn  string
		want []string // nil: an error
	}{
		{"root@tcp(127.0.0.1:3306)/db", []string{"127.0.0.1:3306"}},
		{"root@tcp(db1)/db", []string{"db1:3306"}},
		{"root@tcp(db1:3307,db2,db3:3309)/db?timeout=2s", []string{"db1:3307", "db2:3306", "db3:3309"}},
		{"u:p@ss,w(rd@tcp(10.0.0.1:3306, 10.0.0.2:3306)/tributary", []string{"10.0.0.1:3306", "10.0.0.2:3306"}},
		{"root@tcp([::1]:3306,[::2])/db", []string{"[::1]:3306", "[::2]:3306"}},
		{"root@tcp(db1,,db2)/db", nil},
		{"root@unix(/a,/b)/db", nil},
		{"root@/db", []string{"127.0.0.1:3306"}},
	}
	for _, tc := range cases {
		cfg, err := mysql.ParseDSN(tc.dsn)
		if err != nil {
			t.Fatalf("ParseDSN(%q): %v", tc.dsn, err)
		}
		got, err := splitAddrs(tc.dsn, cfg)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("%s: expected an error, got %q", tc.dsn, got)
		case tc.want != nil && (err != nil || !slices.Equal(got, tc.want)):
			t.Errorf("%s: expected %q, got %q (%v)", tc.dsn, tc.want, got, err)
		}
	}
}

// TestOpenOfAGaleraListThatFailsReturns: when no node of a list could be
// chosen at start-up (all down, or not Galera), Open closed the cluster's
// checks before they had started and waited for them to end, for ever:
// the binary hung after its "starting" line, past TRIBUTARY_STARTUP_TIMEOUT
// and deaf to SIGTERM (which the process catches). The same wait followed
// every failure of Open after the node was chosen. Open must return its
// error.
func TestOpenOfAGaleraListThatFailsReturns(t *testing.T) {
	t.Parallel()
	test, err := mysql.ParseDSN(mysqltest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, dsn := range []string{
		"root@tcp(127.0.0.1:1,127.0.0.1:2)/x",                            // nothing listens
		test.User + "@tcp(" + test.Addr + ",127.0.0.1:1)/" + test.DBName, // a server that is no Galera node
	} {
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := Open(ctx, dsn, Options{})
			if err == nil {
				s.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("Open(%q): expected an error (no Galera node to write through), got none", dsn)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("Open(%q) with a 5 s context had not returned after 20 s", dsn)
		}
	}
}
