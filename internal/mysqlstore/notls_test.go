package mysqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestTLSAskedOfAServerWithoutItSaysWhatToDo: a DSN with tls=true (or
// skip-verify) against a server that offers no TLS failed the start with
// the driver's bare "TLS requested but server does not support TLS",
// where every other refusal of a DSN says what to do. It says to enable
// TLS on the server, or, on a network trusted alone, to drop tls from the
// DSN. The test's servers offer none.
func TestTLSAskedOfAServerWithoutItSaysWhatToDo(t *testing.T) {
	t.Parallel()
	cfg, err := mysql.ParseDSN(mysqltest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"true", "skip-verify"} {
		cfg := cfg.Clone()
		cfg.TLSConfig = mode
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		s, err := mysqlstore.Open(ctx, cfg.FormatDSN(), mysqlstore.Options{})
		cancel()
		if err == nil {
			s.Close()
			t.Skipf("tls=%s: the server offers TLS; this test needs one that does not", mode)
		}
		if !errors.Is(err, mysql.ErrNoTLS) || !strings.Contains(err.Error(), "enable TLS on the server") || !strings.Contains(err.Error(), "remove tls") {
			t.Errorf("tls=%s against a server without TLS: %v; want the driver's error, saying to enable TLS on the server or, on a trusted network, to remove tls from the DSN", mode, err)
		}
	}
}
