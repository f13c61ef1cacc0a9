package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestTheEmbeddedLogsWarningSaysWhenItsDirectoryIsTheDefault: with a MySQL
// DSN and ./data/tributary.db left from the embedded store, the WARN said
// the log "is at data/tributary.db (TRIBUTARY_DATA_DIR)" though the
// variable was not set: an operator looked for it in vain. Where the
// directory is the default, it says so; where it is set, it names the
// variable alone. Not parallel: it changes the working directory.
func TestTheEmbeddedLogsWarningSaysWhenItsDirectoryIsTheDefault(t *testing.T) {
	dsn := mysqltest.NewDatabase(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "tributary.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	warned := func(dataDir string) string {
		t.Helper()
		cfg := config.Defaults()
		cfg.MySQLDSN = dsn
		if dataDir != "" {
			cfg.DataDir = dataDir
		}
		var logs testlog.Buffer
		s, err := openStore(t.Context(), cfg, slog.New(slog.NewJSONHandler(&logs, nil)), metrics.New("test"), true)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `"level":"WARN"`) && strings.Contains(l, "not served") {
				return l
			}
		}
		t.Fatalf("no WARN of the embedded log in %s:\n%s", cfg.DataDir, logs.String())
		return ""
	}
	if l := warned(""); !strings.Contains(l, "TRIBUTARY_DATA_DIR's default") {
		t.Errorf("the WARN of ./data/tributary.db, TRIBUTARY_DATA_DIR unset: %s; want it to say the directory is TRIBUTARY_DATA_DIR's default", l)
	}
	if l := warned(filepath.Join(dir, "data")); strings.Contains(l, "default") || !strings.Contains(l, "(TRIBUTARY_DATA_DIR)") {
		t.Errorf("the WARN of the embedded log, TRIBUTARY_DATA_DIR set: %s; want it to name the variable, not a default", l)
	}
}
