package mysqlstore

import (
	"strings"
	"testing"
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
		// A Galera cluster keeps a copy on every node: relaxed disk settings
		// cost only when every node crashes at once, which the log line says.
		{durability{flushAtCommit: 2, galera: true, clusterSize: 3}, ""},
		{durability{flushAtCommit: 0, logBin: true, syncBinlog: 0, galera: true, clusterSize: 2}, ""},
		{durability{flushAtCommit: 2, galera: true, clusterSize: 1}, "one node"},
		{durability{flushAtCommit: 1, galera: true, clusterSize: 1}, ""},
	}
	for _, tc := range cases {
		got := tc.d.unsafe()
		if (got == "") != (tc.unsafe == "") || !strings.Contains(got, tc.unsafe) {
			t.Errorf("%+v: unsafe() = %q, want a reason naming %q", tc.d, got, tc.unsafe)
		}
	}
}
