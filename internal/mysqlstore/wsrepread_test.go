package mysqlstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAStartWhoseServerRefusesShowGlobalVariablesStillOpens: Open reads
// whether its server is a Galera node (wsrep_on) to know what an
// acknowledged commit means there and to make the writer's reads wait for
// the cluster. It read it with SHOW GLOBAL VARIABLES alone, and a refusal
// of that (a proxy's query rule, a MySQL-compatible server that filters
// it) failed every start, though the migrations now pass it by. It reads
// @@GLOBAL.wsrep_on then, as the live feed's sessions do; where that is
// refused too, the start fails saying which reads were refused and why
// the store needs one. A proxy answers each refused read with an error.
func TestAStartWhoseServerRefusesShowGlobalVariablesStillOpens(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		refuses func(chunk []byte) bool
		opens   bool
	}{
		{"SHOW GLOBAL VARIABLES", func(chunk []byte) bool { return bytes.Contains(chunk, []byte("SHOW GLOBAL VARIABLES")) }, true},
		{"every read of wsrep_on", func(chunk []byte) bool { return bytes.Contains(chunk, []byte("wsrep_on")) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
			answered := mysqltest.RefuseCounted(proxy, tc.refuses, 1148, "The used command is not allowed (query rule)")
			var logs testlog.Buffer
			s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if answered.Load() == 0 {
				t.Fatalf("the start never read what the proxy refuses (%s): the test did not reach its case", tc.name)
			}
			if !tc.opens {
				if err == nil {
					s.Close()
					t.Fatalf("a start whose server refuses %s opened; want it refused, naming wsrep_on", tc.name)
				}
				if !strings.Contains(err.Error(), "wsrep_on") || !strings.Contains(err.Error(), "Galera") {
					t.Errorf("a start whose server refuses %s: %v; want it to name wsrep_on and say why the store reads it (Galera)", tc.name, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("a start whose server refuses %s: %v; want it open, reading wsrep_on otherwise; log:\n%s", tc.name, err, logs.String())
			}
			t.Cleanup(func() { s.Close() })
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("migrate behind a proxy refusing %s: %v", tc.name, err)
			}
			id := uuid.New()
			if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: "t", Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}}); err != nil {
				t.Fatalf("an append behind a proxy refusing %s: %v", tc.name, err)
			}
			if st, err := s.Stream(ctx, id); err != nil || st.Version != 1 {
				t.Errorf("the stream appended to behind a proxy refusing %s: %+v, %v; want version 1", tc.name, st, err)
			}
		})
	}
}
