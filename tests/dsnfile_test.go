package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestTheServerTakesItsDSNFromTRIBUTARY_MYSQL_DSN_FILE: the DSN, which holds
// the database's password, could only be given in the environment (docker
// inspect, /proc/<pid>/environ), while tokens had a file (operator tester's
// F20). The real binary, given only TRIBUTARY_MYSQL_DSN_FILE naming a
// secret-like file (the DSN and a line end), serves on that MySQL
// database; given both the file and the variable, it refuses to start.
func TestTheServerTakesItsDSNFromTRIBUTARY_MYSQL_DSN_FILE(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	file := filepath.Join(t.TempDir(), "db_dsn")
	if err := os.WriteFile(file, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// An empty TRIBUTARY_MYSQL_DSN leaves the variable unset (command).
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_MYSQL_DSN_FILE="+file)
	store := ""
	for _, l := range s.logLines() {
		if l["msg"] == "listening" {
			store, _ = l["store"].(string)
		}
	}
	if store != "mysql" {
		t.Errorf("TRIBUTARY_MYSQL_DSN_FILE naming a file holding a DSN: expected the server listening on the MySQL store, got store %q. Output:\n%s", store, s.output(8192))
	}
	_, password, _ := strings.Cut(strings.SplitN(dsn, "@", 2)[0], ":")
	code, stdout, stderr := runCommand(t, []string{"TRIBUTARY_MYSQL_DSN=" + dsn, "TRIBUTARY_MYSQL_DSN_FILE=" + file, "TRIBUTARY_ADDR=127.0.0.1:0"}, "serve")
	if code != 1 || !strings.Contains(stderr, "TRIBUTARY_MYSQL_DSN_FILE and TRIBUTARY_MYSQL_DSN are both set") ||
		password != "" && (strings.Contains(stderr, password) || strings.Contains(stdout, password)) {
		t.Errorf("TRIBUTARY_MYSQL_DSN_FILE and TRIBUTARY_MYSQL_DSN both set: expected exit status 1 saying both are set, without the password; got %d.\nStdout:\n%s\nStderr:\n%s", code, stdout, stderr)
	}
}
