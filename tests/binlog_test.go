package tests

import (
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestStartRefusesADSNThatKeepsAppendsOutOfTheBinaryLog: with sql_log_bin=0
// in the DSN (for a user with the privilege to set it), the store's
// migrations and commits never reached the binary log (it held the CREATE
// DATABASE and nothing after it): a replica, or a restore to a point in
// time, would never see them, and with the binary log on the store takes
// commits to be durable once visible, which a commit outside it is not.
// Start-up must refuse it, naming the parameter.
func TestStartRefusesADSNThatKeepsAppendsOutOfTheBinaryLog(t *testing.T) {
	t.Parallel()
	m := mysqltest.NewServer(t, "--log-bin=binlog", "--server-id=1", "--sync-binlog=1", "--binlog-format=ROW")
	dsn := m.CreateDatabase(t, "tributary")
	for _, param := range []string{"sql_log_bin=0", "SQL_LOG_BIN=OFF"} {
		code, stdout, stderr := runCommand(t, []string{"TRIBUTARY_ADDR=127.0.0.1:0", "TRIBUTARY_MYSQL_DSN=" + dsn + "?" + param})
		if code == 0 || !strings.Contains(stderr, "sql_log_bin") {
			t.Errorf("DSN with %s: expected the api to exit non-zero naming sql_log_bin on stderr, got status %d. Stdout:\n%s\nStderr:\n%s",
				param, code, stdout, stderr)
		}
	}
}
