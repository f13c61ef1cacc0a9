package mysqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/mysqlstore"
)

// TestADSNParameterRefusedForItsValueIsNamedWithoutIt: the driver's parse
// error quotes a parameter's value (invalid bool value: s3cret, time:
// invalid duration "…"), and a password holding / and ?timeout= with the
// /dbname left out (root:ab/cd?timeout=SECRETPW@tcp(127.0.0.1:3306)) had
// the password's tail and the address shown at start-up (operator tester's
// F2). The refusal, of TRIBUTARY_MYSQL_DSN's and of
// TRIBUTARY_MYSQL_READ_DSN's, must name the variable and the parameter and
// say what it takes, and show nothing of the value. The primary here is on
// port 1, where no server listens: the DSNs are refused before any dial.
func TestADSNParameterRefusedForItsValueIsNamedWithoutIt(t *testing.T) {
	t.Parallel()
	const good = "root@tcp(127.0.0.1:1)/tributary"
	for _, tc := range []struct{ dsn, param, takes, secret string }{
		{"root@tcp(127.0.0.1:1)/t?parseTime=s3cret", "parseTime", "true or false", "s3cret"},
		{"root@tcp(127.0.0.1:1)/t?rejectReadOnly=s3cret", "rejectReadOnly", "true or false", "s3cret"},
		{"root@tcp(127.0.0.1:1)/t?maxAllowedPacket=S3cret", "maxAllowedPacket", "number", "S3cret"},
		{"root@tcp(127.0.0.1:1)/t?timeout=s3cret", "timeout", "duration", "s3cret"},
		{"root@tcp(127.0.0.1:1)/t?readTimeout=s3cret", "readTimeout", "duration", "s3cret"},
		{"root@tcp(127.0.0.1:1)/t?writeTimeout=s3cret", "writeTimeout", "duration", "s3cret"},
		{"root@tcp(127.0.0.1:1)/t?timeTruncate=s3cret", "timeTruncate", "duration", "s3cret"},
		{"root@tcp(127.0.0.1:1)/t?serverPubKey=s3cret", "serverPubKey", "RegisterServerPubKey", "s3cret"},
		{"root@tcp(127.0.0.1:1)/t?tls=s3cret", "tls", "skip-verify", "s3cret"},
		{"root@tcp(127.0.0.1:1)/t?loc=s3cret", "loc", "time zone", "s3cret"},
		{"root@tcp(127.0.0.1:1)/t?lock_wait_timeout=s3cret%zz", "lock_wait_timeout", "escaped", "s3cret"},
		// The driver panics on strict, which it no longer reads.
		{"root@tcp(127.0.0.1:1)/t?strict=s3cret", "strict", "remove it", "s3cret"},
		// A database name with a % that begins no escape.
		{"root:ab/c%zzSECRETPW@tcp(127.0.0.1:3306)", "database's name", "%25", "SECRETPW"},
		// A password holding / and ?timeout=, the /dbname left out.
		{"root:ab/cd?timeout=SECRETPW@tcp(127.0.0.1:3306)", "timeout", "duration", "SECRETPW"},
	} {
		for _, v := range []struct {
			name             string
			primary, readDSN string
		}{
			{"TRIBUTARY_MYSQL_DSN", tc.dsn, ""},
			{"TRIBUTARY_MYSQL_READ_DSN", good, tc.dsn},
		} {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			s, err := mysqlstore.Open(ctx, v.primary, mysqlstore.Options{ReadDSN: v.readDSN})
			cancel()
			if err == nil {
				s.Close()
				t.Errorf("%s=%q: expected a refusal, it opened", v.name, tc.dsn)
				continue
			}
			msg := err.Error()
			if strings.Contains(msg, tc.secret) || strings.Contains(msg, "127.0.0.1:3306") ||
				!strings.Contains(msg, v.name) || !strings.Contains(msg, tc.param) || !strings.Contains(msg, tc.takes) {
				t.Errorf("%s=%q: expected a refusal naming %s, its %s parameter and what it takes (%q), without its value %q or the address; got %v",
					v.name, tc.dsn, v.name, tc.param, tc.takes, tc.secret, err)
			}
		}
	}
}
