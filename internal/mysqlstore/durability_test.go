package mysqlstore

import (
	"bytes"
	"encoding/json"
	"log/slog"
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
		// A node that refused to say its cluster's size: counted as one.
		{durability{flushAtCommit: 2, galera: true, clusterSize: sizeUnknown}, "wsrep_cluster_size"},
		{durability{flushAtCommit: 1, galera: true, clusterSize: sizeUnknown}, ""},
	}
	for _, tc := range cases {
		got := tc.d.unsafe()
		if (got == "") != (tc.unsafe == "") || !strings.Contains(got, tc.unsafe) {
			t.Errorf("%+v: unsafe() = %q, want a reason naming %q", tc.d, got, tc.unsafe)
		}
	}
}

// TestTheDurabilityLineSaysWhatTheSettingsMean: with unsafe durability
// allowed on innodb_flush_log_at_trx_commit=2 (or sync_binlog 0 with the
// binary log on), the start-up's "database durability" line still said
// appends were "committed and flushed to the server's disk", the opposite
// of the warning just before it. The settings are given as values: the
// shared server is not changed.
func TestTheDurabilityLineSaysWhatTheSettingsMean(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d       durability
		level   string
		flushed bool   // says the append is flushed to disk
		names   string // a word the line's "acknowledged" must hold
	}{
		{durability{flushAtCommit: 1, logBin: true, syncBinlog: 1}, "INFO", true, "flushed"},
		{durability{flushAtCommit: 1}, "INFO", true, "flushed"},
		{durability{flushAtCommit: 2, logBin: true, syncBinlog: 1}, "WARN", false, "innodb_flush_log_at_trx_commit"},
		{durability{flushAtCommit: 0}, "WARN", false, "innodb_flush_log_at_trx_commit"},
		{durability{flushAtCommit: 1, logBin: true, syncBinlog: 0}, "WARN", false, "sync_binlog"},
		{durability{flushAtCommit: 2, galera: true, clusterSize: 1}, "WARN", false, "innodb_flush_log_at_trx_commit"},
		{durability{flushAtCommit: 1, galera: true, clusterSize: 1}, "INFO", true, "only node"},
		{durability{flushAtCommit: 1, galera: true, clusterSize: sizeUnknown}, "INFO", true, "unknown size"},
		{durability{flushAtCommit: 2, galera: true, clusterSize: sizeUnknown}, "WARN", false, "unknown size"},
	} {
		var buf bytes.Buffer
		tc.d.log(slog.New(slog.NewJSONHandler(&buf, nil)), "db:3306")
		var line struct {
			Level, Msg, Acknowledged, Node string
		}
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("%+v: expected one JSON line, got %q: %v", tc.d, buf.String(), err)
		}
		says := strings.Contains(line.Acknowledged, "flushed to") && !strings.Contains(line.Acknowledged, "NOT flushed")
		if line.Msg != "database durability" || line.Level != tc.level || says != tc.flushed || !strings.Contains(line.Acknowledged, tc.names) {
			t.Errorf("%+v: expected a %s line whose acknowledged says flushed to disk: %v and names %q, got %s", tc.d, tc.level, tc.flushed, tc.names, buf.String())
		}
		// The server's address (a start-up on a plain MariaDB said "the only
		// node of the Galera cluster's Primary component", galera false).
		if line.Node != "db:3306" {
			t.Errorf("%+v: the line's node is %q; want the server's address, db:3306", tc.d, line.Node)
		}
	}
}
