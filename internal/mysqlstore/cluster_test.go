package mysqlstore

import (
	"slices"
	"testing"

	"github.com/go-sql-driver/mysql"
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
