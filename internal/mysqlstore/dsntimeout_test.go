package mysqlstore_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestADSNTimeoutShorterThanTheStoresWaitsIsWarnedOf: a DSN's readTimeout
// or writeTimeout (copied from another service's: readTimeout=500ms) below
// what the store waits for (a lock, a commit's answer, the live feed's
// statements: up to 30 s) was taken without a word, and its effects logged
// as lost sessions (a COMMIT's lost answer an outcome unknown). Start-up
// warns, naming the parameter; one of 30 s or more, or none, is not
// warned of. On a private server.
func TestADSNTimeoutShorterThanTheStoresWaitsIsWarnedOf(t *testing.T) {
	t.Parallel()
	server := mysqltest.NewServer(t)
	dsn := server.CreateDatabase(t, "timeouts")
	for _, tc := range []struct {
		params string
		warned []string
	}{
		{"readTimeout=500ms", []string{"readTimeout"}},
		{"writeTimeout=2s", []string{"writeTimeout"}},
		{"readTimeout=1s&writeTimeout=1s", []string{"readTimeout", "writeTimeout"}},
		{"readTimeout=30s&writeTimeout=1m", nil},
		{"", nil},
	} {
		t.Run(tc.params, func(t *testing.T) {
			var logged testlog.Buffer
			d := dsn
			if tc.params != "" {
				d += "?" + tc.params
			}
			openLogged(t, d, slog.New(slog.NewTextHandler(&logged, nil)))
			log := logged.String()
			// The WARN lines of the DSN's parameters (a first start on an
			// empty database also warns that it made a new log).
			warns := 0
			for _, line := range strings.Split(log, "\n") {
				if strings.Contains(line, "level=WARN") && strings.Contains(line, "parameter=") {
					warns++
				}
			}
			if warns != len(tc.warned) {
				t.Errorf("a DSN with %q: %d WARN lines; want %d, naming %v; the log:\n%s", tc.params, warns, len(tc.warned), tc.warned, log)
			}
			for _, p := range tc.warned {
				if !strings.Contains(log, "parameter="+p) {
					t.Errorf("a DSN with %q: no WARN line names %s; the log:\n%s", tc.params, p, log)
				}
			}
		})
	}
}
