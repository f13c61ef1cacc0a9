package config

import (
	"strings"
	"testing"
)

// TestUnsafeDurabilityOnTheEmbeddedStoreIsWarnedOf:
// TRIBUTARY_ALLOW_UNSAFE_DURABILITY=true on the embedded store was taken
// without a word, and does nothing there (it allows a MySQL server's
// settings that may lose appends): an operator who set it, believing it
// relaxed the embedded store's fsync, is told. On MySQL it is in force,
// and not warned of here.
func TestUnsafeDurabilityOnTheEmbeddedStoreIsWarnedOf(t *testing.T) {
	for _, tc := range []struct {
		name, dsn string
		want      bool
	}{
		{"embedded", "", true},
		{"MySQL", "u:p@tcp(127.0.0.1:3306)/db", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearTributaryEnv(t)
			t.Setenv("TRIBUTARY_ALLOW_UNSAFE_DURABILITY", "true")
			if tc.dsn != "" {
				t.Setenv("TRIBUTARY_MYSQL_DSN", tc.dsn)
			}
			c, err := Load()
			if err != nil {
				t.Fatal(err)
			}
			warned := false
			for _, w := range c.Warnings() {
				warned = warned || strings.Contains(w, "TRIBUTARY_ALLOW_UNSAFE_DURABILITY")
			}
			if warned != tc.want {
				t.Errorf("TRIBUTARY_ALLOW_UNSAFE_DURABILITY=true on the %s store: warned %v, want %v; warnings %q", tc.name, warned, tc.want, c.Warnings())
			}
		})
	}
}
