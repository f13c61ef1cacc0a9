package mysqltest_test

import (
	"testing"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestSendsCommitTellsACommitFromAnIsolationLevel: the lost-COMMIT tests cut
// or hold the connection that sends COMMIT. A writer's connection opened
// meanwhile sends transaction_isolation='READ-COMMITTED' as it connects: cut
// for a COMMIT, it let the append's real COMMIT through, and its test failed
// now and then (CI: "committed but could not be made durable: … <nil>").
func TestSendsCommitTellsACommitFromAnIsolationLevel(t *testing.T) {
	for chunk, want := range map[string]bool{
		"\x06\x00\x00\x00\x03COMMIT": true,
		"\x30\x00\x00\x00\x03INSERT INTO events VALUES (1); UPDATE log_head SET position = 1;COMMIT": true,
		"\x20\x00\x00\x00\x03commit": true,
		"\x40\x00\x00\x00\x03SET transaction_isolation='READ-COMMITTED',sql_mode=''": false,
		"\x40\x00\x00\x00\x03SET tx_isolation='READ-COMMITTED'":                      false,
		"\x20\x00\x00\x00\x03SELECT 'COMMITS'":                                       false,
		"\x20\x00\x00\x00\x03BEGIN":                                                  false,
	} {
		if got := mysqltest.SendsCommit([]byte(chunk)); got != want {
			t.Errorf("SendsCommit(%q) = %v, want %v", chunk, got, want)
		}
	}
}
