package mysqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/freeport"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAReplicaDownAtStartIsNamedAndTheWayToServeFromThePrimarySaid: a
// read replica that does not answer at start stops the start (retried
// until TRIBUTARY_STARTUP_TIMEOUT, as an unavailable database): reads are
// not moved to the primary behind the operator's back (its load, planned
// for the replica's, and never moved back). The error said only "connect
// to the read replica at …: dial tcp …", which the start logged as "database
// not reachable yet": it now names the read replica's setting, says the
// primary serves appends and answers, and that unsetting the read DSN
// serves reads from the primary; it stays unavailable (the start waits).
func TestAReplicaDownAtStartIsNamedAndTheWayToServeFromThePrimarySaid(t *testing.T) {
	t.Parallel()
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW").CreateDatabase(t, "tributary")
	down := "root@tcp(" + freeport.Addr(t) + ")/tributary" // nothing listens there
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, primary, Options{ReadDSN: down})
	if err == nil {
		s.Close()
		t.Fatal("Open with a read replica that does not answer: it opened; want it refused")
	}
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("Open with a read replica that does not answer: %v; want an unavailable error (the start waits for it)", err)
	}
	for _, want := range []string{"read replica", "TRIBUTARY_MYSQL_READ_DSN", "primary", "unset"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open with a read replica that does not answer: %v; want it to say %q", err, want)
		}
	}
}
