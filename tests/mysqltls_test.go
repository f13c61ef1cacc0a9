package tests

import (
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAnUnverifiedTLSModeIsWarnedOfAndTheTLSModeLogged: tls=skip-verify
// and tls=preferred in TRIBUTARY_MYSQL_DSN take any certificate (a man in
// the middle's, who then reads the DSN's password), and preferred falls
// back to plain text where the server offers no TLS; the server started
// with neither a warning nor a word of TLS. It warns of them, and "store
// ready" says how the connections use TLS (from the DSN, which it never
// prints). The test's server offers no TLS: preferred starts, in plain text.
func TestAnUnverifiedTLSModeIsWarnedOfAndTheTLSModeLogged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tls, ready string
		warned     bool
	}{
		{"", "off", false},
		{"preferred", "unverified, or plain text where the server offers none (preferred)", true},
	} {
		cfg, err := mysql.ParseDSN(mysqltest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLSConfig = tc.tls
		s := startServer(t, "TRIBUTARY_MYSQL_DSN="+cfg.FormatDSN())
		var ready map[string]any
		warned := false
		for _, l := range s.logLines() {
			msg, _ := l["msg"].(string)
			switch {
			case msg == "store ready":
				ready = l
			case l["level"] == "WARN" && strings.Contains(msg, "tls=preferred"):
				warned = true
				if !strings.Contains(msg, "not verified") || !strings.Contains(msg, "plain text") || !strings.Contains(msg, "TRIBUTARY_MYSQL_DSN") {
					t.Errorf("tls=%q: the warning %q; want it to name TRIBUTARY_MYSQL_DSN and say the certificate is not verified and plain text may be used", tc.tls, msg)
				}
			}
		}
		if ready == nil || ready["tls"] != tc.ready {
			t.Errorf("tls=%q: \"store ready\" %v; want it with \"tls\": %q", tc.tls, ready, tc.ready)
		}
		if warned != tc.warned {
			t.Errorf("tls=%q: warned of it: %v; want %v. Output:\n%s", tc.tls, warned, tc.warned, s.output(8<<10))
		}
	}
}
