package mysqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAnEventBoundTheDSNsPacketCannotCarryNamesTheDSNParameter: a DSN with
// the driver's own maxAllowedPacket=1024 was refused at start-up saying
// "the MySQL server's max_allowed_packet (1024 bytes) … raise the server's
// max_allowed_packet …, or lower TRIBUTARY_MAX_EVENT_BYTES to at most 0":
// the server's setting blamed for the DSN's, and a bound no one can set.
// It names the DSN's parameter now, and proposes no bound of 0.
func TestAnEventBoundTheDSNsPacketCannotCarryNamesTheDSNParameter(t *testing.T) {
	t.Parallel()
	cfg, err := mysql.ParseDSN(mysqltest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxAllowedPacket = 1024
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := mysqlstore.Open(ctx, cfg.FormatDSN(), mysqlstore.Options{MaxEventBytes: 1 << 20})
	if err == nil {
		s.Close()
		t.Fatal("expected Open to refuse an event bound of 1 MiB with the DSN's maxAllowedPacket=1024, it opened")
	}
	msg := err.Error()
	for _, want := range []string{"maxAllowedPacket", "DSN", "TRIBUTARY_MAX_EVENT_BYTES"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal: %q; want it to name %q", msg, want)
		}
	}
	for _, not := range []string{"server's max_allowed_packet (1024", "raise the server's", "at most 0"} {
		if strings.Contains(msg, not) {
			t.Errorf("the refusal: %q; it must not say %q", msg, not)
		}
	}
}
