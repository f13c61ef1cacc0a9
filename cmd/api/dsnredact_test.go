package main

import (
	"slices"
	"testing"
)

// TestWhichDSNPasswordsAreRedacted: a password is taken out of the log
// unless it is too short to be told from the lines' own words, or the DSNs
// hold it elsewhere (the user's or database's name, logged anyway).
func TestWhichDSNPasswordsAreRedacted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dsns []string
		want []string
	}{
		{"a long one", []string{"app:Long-Secret-123@tcp(db:3306)/events"}, []string{"Long-Secret-123"}},
		{"the read DSN's too", []string{"app:Long-Secret-123@tcp(db:3306)/events", "ro:Other-Secret-456@tcp(replica:3306)/events"},
			[]string{"Long-Secret-123", "Other-Secret-456"}},
		{"none", []string{"root@tcp(127.0.0.1:3306)/tributary", ""}, nil},
		{"too short", []string{"app:short@tcp(db:3306)/events"}, nil},
		{"the user's and database's name (compose.yaml's)", []string{"tributary:tributary@tcp(db:3306)/tributary"}, nil},
		{"the other DSN's database", []string{"app:eventsdb1@tcp(db:3306)/x", "ro:y-0123456789@tcp(replica:3306)/eventsdb1"}, []string{"y-0123456789"}},
		{"not a DSN", []string{"not a dsn"}, nil},
	} {
		if got := dsnPasswords(tc.dsns...); !slices.Equal(got, tc.want) {
			t.Errorf("%s: dsnPasswords(%q) = %q; want %q", tc.name, tc.dsns, got, tc.want)
		}
	}
}
