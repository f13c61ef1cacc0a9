package mysqlstore_test

import (
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"log/slog"

	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAFirstStartOnAnEmptyDatabaseWarnsThatANewLogWasCreated: a first start
// on an empty database (a mistyped database name that exists, one dropped
// and made again) made a new log at position 1 with INFO lines alone,
// where the embedded store warns (the operator tester's F10): clients that
// saw the old log's positions would take the new one's for them. It warns
// once, naming the database and its server; a start on the log it made
// does not.
func TestAFirstStartOnAnEmptyDatabaseWarnsThatANewLogWasCreated(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var first testlog.Buffer
	openLogged(t, dsn, slog.New(slog.NewJSONHandler(&first, nil)))
	var warned []string
	for line := range strings.Lines(first.String()) {
		if strings.Contains(line, "no log found") {
			warned = append(warned, line)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], `"level":"WARN"`) || !strings.Contains(warned[0], "database "+cfg.DBName) ||
		!strings.Contains(warned[0], cfg.Addr) || !strings.Contains(warned[0], "stop") {
		t.Errorf("a first start on an empty database logged %q; want one WARN line saying no log was found in database %s at %s, and to stop if one was expected", warned, cfg.DBName, cfg.Addr)
	}
	var again testlog.Buffer
	openLogged(t, dsn, slog.New(slog.NewJSONHandler(&again, nil)))
	if strings.Contains(again.String(), "no log found") {
		t.Errorf("a start on the log made before: %s; want no word of a new log", again.String())
	}
}
