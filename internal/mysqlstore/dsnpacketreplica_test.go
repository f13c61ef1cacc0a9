package mysqlstore_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAReadDSNsMaxAllowedPacketTooSmallForTheStartIsNamed: the start's
// naming of a DSN's maxAllowedPacket too small for its statements (16,
// meant as 16 MiB) was tested on the primary's DSN alone. On the read
// replica's, the start must name TRIBUTARY_MYSQL_READ_DSN's parameter, not
// the primary's DSN (whose own is fine), nor tell of an append.
func TestAReadDSNsMaxAllowedPacketTooSmallForTheStartIsNamed(t *testing.T) {
	t.Parallel()
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW").
		CreateDatabase(t, "tributary")
	replica := mysqltest.NewServer(t, "--server-id=2").CreateDatabase(t, "tributary")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	migrated, err := mysqlstore.Open(ctx, replica, mysqlstore.Options{})
	if err == nil {
		err = migrated.Migrate(ctx)
		migrated.Close()
	}
	if err != nil {
		t.Fatalf("migrate the replica's database: %v", err)
	}
	for _, packet := range []int{16, 100} {
		cfg, err := mysql.ParseDSN(replica)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxAllowedPacket = packet
		s, err := mysqlstore.Open(ctx, primary, mysqlstore.Options{ReadDSN: cfg.FormatDSN()})
		if err == nil {
			err = s.Migrate(ctx)
			s.Close()
		}
		if err == nil {
			t.Fatalf("a read DSN with maxAllowedPacket=%d: the store opened and migrated; want the start refused", packet)
		}
		if !strings.Contains(err.Error(), "maxAllowedPacket="+strconv.Itoa(packet)) || !strings.Contains(err.Error(), config.Var("MySQLReadDSN")) {
			t.Errorf("a read DSN with maxAllowedPacket=%d: %q; want it to name %s's maxAllowedPacket=%d", packet, err, config.Var("MySQLReadDSN"), packet)
		}
		if strings.Contains(err.Error(), config.Var("MySQLDSN")+" has") || strings.Contains(err.Error(), "append") {
			t.Errorf("a read DSN with maxAllowedPacket=%d: %q; want neither the primary's DSN blamed nor a word of appends", packet, err)
		}
	}
}
