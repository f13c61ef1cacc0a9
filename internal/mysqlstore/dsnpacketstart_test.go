package mysqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestADSNsMaxAllowedPacketTooSmallForTheStartIsNamed: a DSN whose
// maxAllowedPacket is smaller than the start-up's statements (16, meant as
// 16 MiB) failed the start saying "the append's statement is larger than
// the database takes (its max_allowed_packet); send fewer or smaller
// events in each append", though nothing was appended and the bound was the
// DSN's own. The start now fails naming the DSN's parameter and its
// variable, and what to do.
func TestADSNsMaxAllowedPacketTooSmallForTheStartIsNamed(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	// 16 fails the first statement, 300 one of those Open sends later.
	for _, packet := range []int{16, 300} {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxAllowedPacket = packet
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := mysqlstore.Open(ctx, cfg.FormatDSN(), mysqlstore.Options{})
		if err == nil {
			err = s.Migrate(ctx)
			s.Close()
		}
		if err == nil {
			t.Fatalf("a DSN with maxAllowedPacket=%d: the store opened and migrated; want the start refused", packet)
		}
		for _, want := range []string{"maxAllowedPacket", config.Var("MySQLDSN")} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("a DSN with maxAllowedPacket=%d: %q; want it to name %s", packet, err, want)
			}
		}
		if strings.Contains(err.Error(), "append") {
			t.Errorf("a DSN with maxAllowedPacket=%d: %q; want no word of appends: nothing was appended", packet, err)
		}
	}
}
