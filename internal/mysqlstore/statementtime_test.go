package mysqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAReadTheServerCutsAtItsStatementTimeIsUnavailable: a server, or the
// DSN, may bound every statement's time (MariaDB's max_statement_time,
// MySQL's max_execution_time), as DBAs do against runaway queries. A read
// the server cut so, here one waiting for a table another session holds
// locked, failed with the server's error (1969 on MariaDB) passed on as it
// was: a 500 "internal error". The store's own bound on a read (readTimeout)
// ends the same read as a 503; so must the server's.
func TestAReadTheServerCutsAtItsStatementTimeIsUnavailable(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn+"?max_statement_time=1")
	if !s.MariaDB() {
		t.Skip("not MariaDB: max_statement_time is MariaDB's")
	}
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)
	holder, err := otherProcessDB(t, dsn).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		holder.ExecContext(context.Background(), "UNLOCK TABLES") //nolint:errcheck // the test's end
		holder.Close()
	})
	if _, err := holder.ExecContext(ctx, "LOCK TABLES events WRITE, streams WRITE"); err != nil {
		t.Fatal(err)
	}
	read, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err = s.Stream(read, stream)
	if !errors.Is(err, eventstore.ErrUnavailable) || time.Since(start) > 10*time.Second {
		t.Errorf("a read the server cut at its max_statement_time (1 s): %v after %v; want an error wrapping ErrUnavailable after about a second", err, time.Since(start).Round(time.Millisecond))
	}
}
