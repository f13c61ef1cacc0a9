package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/testlog"
)

func TestConnectionBoundsLeaveRoomForTheFilesTheServerNeeds(t *testing.T) {
	for _, tt := range []struct {
		name                string
		set, setPerClient   int
		limit               uint64
		limited             bool
		wantMax, wantClient int
		warns               bool
	}{
		{"no limit: the default", 0, 0, 0, false, 10000, 5000, false},
		{"a high limit: the default", 0, 0, 1 << 20, true, 10000, 5000, false},
		{"ulimit -n 1024: less 128 and twice the pool of 16", 0, 0, 1024, true, 864, 432, false},
		{"a limit below what the server needs: still some, with a warning", 0, 0, 100, true, 16, 8, true},
		{"ulimit -n 64: the floor, with a warning", 0, 0, 64, true, 16, 8, true},
		{"a limit one short of the files set aside and 16: the floor, with a warning", 0, 0, 175, true, 16, 8, true},
		{"a limit that leaves 16: no warning", 0, 0, 176, true, 16, 8, false},
		{"set below the floor where the limit is too low: a warning", 10, 0, 100, true, 10, 5, true},
		{"set within the room", 500, 0, 1024, true, 500, 250, false},
		{"set past the room: kept, with a warning", 5000, 0, 1024, true, 5000, 2500, true},
		{"per client set", 0, 300, 1024, true, 864, 300, false},
		{"per client past the whole: the whole", 100, 300, 1024, true, 100, 100, false},
	} {
		tt := tt
		t.Run(tt.name, func(t *testing.T) {
			logs := &testlog.Buffer{}
			cfg := config.Config{MaxConnections: tt.set, MaxConnectionsPerClient: tt.setPerClient, MySQLMaxConns: 16, MySQLDSN: "app@tcp(db:3306)/tributary"}
			gotMax, gotClient := connectionBounds(cfg, tt.limit, tt.limited, slog.New(slog.NewJSONHandler(logs, nil)))
			if gotMax != tt.wantMax || gotClient != tt.wantClient {
				t.Errorf("bounds %d and %d per client; expected %d and %d", gotMax, gotClient, tt.wantMax, tt.wantClient)
			}
			if warned := strings.Contains(logs.String(), "open-file limit"); warned != tt.warns {
				t.Errorf("warned: %v; expected %v. The log: %s", warned, tt.warns, logs.String())
			}
			if n := strings.Count(logs.String(), "\n"); n > 1 {
				t.Errorf("%d warnings; expected one at most. The log: %s", n, logs.String())
			}
			if tt.warns && !strings.Contains(logs.String(), "ulimit -n") {
				t.Errorf("the warning does not say how to raise the limit (ulimit -n). The log: %s", logs.String())
			}
		})
	}
}

// TestTheEmbeddedStoreSetsAsideItsOwnFilesNotMySQLsPools: on the embedded
// store the files set aside for the database were counted as twice
// TRIBUTARY_MYSQL_MAX_CONNS, pools that do not exist there: `ulimit -n 200`
// with TRIBUTARY_MAX_CONNECTIONS=100 warned of room for 40 (retest). It
// sets aside its readers' and writer's files instead.
func TestTheEmbeddedStoreSetsAsideItsOwnFilesNotMySQLsPools(t *testing.T) {
	logs := &testlog.Buffer{}
	cfg := config.Config{MaxConnections: 100, MySQLMaxConns: 16}
	gotMax, _ := connectionBounds(cfg, 250, true, slog.New(slog.NewJSONHandler(logs, nil)))
	if gotMax != 100 || strings.Contains(logs.String(), "open-file limit") {
		t.Errorf("the embedded store, ulimit -n 250, 100 connections set: bound %d; log %s; want 100 and no warning (128 and its own files set aside leave room for more)", gotMax, logs.String())
	}
}

// TestAPerClientConnectionLimitAboveTheWholeIsWarnedOf: a
// TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT above the connections the server
// holds in all is lowered to them, and was without a word (retest), where
// every other setting not in force is warned of at start-up.
func TestAPerClientConnectionLimitAboveTheWholeIsWarnedOf(t *testing.T) {
	logs := &testlog.Buffer{}
	cfg := config.Config{MaxConnections: 100, MaxConnectionsPerClient: 500, MySQLMaxConns: 16}
	_, perClient := connectionBounds(cfg, 0, false, slog.New(slog.NewJSONHandler(logs, nil)))
	if perClient != 100 || !strings.Contains(logs.String(), config.Var("MaxConnectionsPerClient")) || !strings.Contains(logs.String(), "lowered") {
		t.Errorf("500 connections per client of 100: %d per client; log %s; want 100 and a warning naming %s, lowered", perClient, logs.String(), config.Var("MaxConnectionsPerClient"))
	}
}
