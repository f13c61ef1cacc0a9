package mysqlstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

func TestDurabilitySettings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		d      durability
		unsafe string // a word the reason must hold, or "" for safe
	}{
		{durability{flushAtCommit: 1}, ""},
		{durability{flushAtCommit: 1, logBin: true, syncBinlog: 1}, ""},
		{durability{flushAtCommit: 2}, "innodb_flush_log_at_trx_commit"},
		{durability{flushAtCommit: 0, logBin: true, syncBinlog: 1}, "innodb_flush_log_at_trx_commit"},
		{durability{flushAtCommit: 1, logBin: true, syncBinlog: 0}, "sync_binlog"},
		{durability{flushAtCommit: 1, logBin: true, syncBinlog: 100}, "sync_binlog"},
	}
	for _, tc := range cases {
		got := tc.d.unsafe()
		if (got == "") != (tc.unsafe == "") || !strings.Contains(got, tc.unsafe) {
			t.Errorf("%+v: unsafe() = %q, want a reason naming %q", tc.d, got, tc.unsafe)
		}
	}
}

// TestWaitDurableCommitsAWriteWhenTheBinaryLogIsOff checks the fence against
// the server the tests run on.
func TestWaitDurableCommitsAWriteWhenTheBinaryLogIsOff(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, mysqltest.NewDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := s.readDurability(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counter := func() int64 {
		var n int64
		if err := s.db.QueryRowContext(ctx, "SELECT counter FROM durability_fence WHERE id = 1").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := counter()
	if err := s.Tail().WaitDurable(ctx); err != nil {
		t.Fatalf("WaitDurable: %v", err)
	}
	want := before
	if !d.logBin {
		want++
	}
	if got := counter(); got != want {
		t.Fatalf("binary log on=%v: fence counter went from %d to %d, want %d", d.logBin, before, got, want)
	}
}
